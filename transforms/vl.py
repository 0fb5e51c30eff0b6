"""PaddleOCR-VL results -> page rows, with a guard against degenerate output.

A layout-parsing result (the ``/layout-parsing`` service's
``layoutParsingResults[i]``, or PaddleOCR's ``PaddleOCRVL`` pipeline result,
which has the same shape) carries ``prunedResult.parsing_res_list`` (blocks in
reading order: ``block_label``, ``block_content``, ``block_bbox``,
``block_order``), ``markdown.text`` with relative image links,
``markdown.images`` (relative path -> Base64 JPEG, or a URL from the hosted
service) and ``markdown.isStart`` / ``isEnd`` (whether the page starts or ends
mid-paragraph).

``PaddleOCRVLModelHandler`` runs PaddleOCR's ``PaddleOCRVL`` pipeline in the
worker (``backend: native``, or layout detection in the worker and the VLM
behind a vllm / sglang server), or sends each page to a ``/layout-parsing``
service (``backend: remote``); every engine gives a result of the shape above.

Vision-language models sometimes loop: a block repeats one phrase until the
token budget runs out.  ``guard_block`` finds a phrase repeated many times in a
row (or a block over a length budget), keeps its first occurrence, marks the
cut, and the page row says which blocks were cut (``flags``).
"""

from __future__ import annotations

import base64
import functools
import io
import json
import logging
import os
import posixpath
import re
import threading
import time
from collections.abc import Callable
from typing import Any, Optional

from .config import PaddleOCRVLConfig
from .engine import decode_png
from .handlers import PageModelHandler, with_visualization
from .records import PageArtifact, PageImage, PageResult, PageWithArtifacts
from .remote import LAYOUT_REQUEST_FIELDS, RemoteLayoutClient, remote_client

_LOG = logging.getLogger(__name__)

#: Block labels whose content is not text of the page (pictures, charts as
#: images); their content does not go into the page's plain text.
NON_TEXT_LABELS = {"image", "chart", "seal", "header_image", "footer_image"}
TRUNCATION_MARK = " [...]"


@functools.lru_cache(maxsize=8)
def _repeat_pattern(min_repeats: int) -> re.Pattern:
    """A unit of 1-60 characters followed by ``min_repeats`` more copies."""
    return re.compile(r"(.{1,60}?)(?:\s*\1){" + str(min_repeats) + ",}", re.DOTALL)


def guard_block(
    content: str, min_repeats: int = 8, max_chars: int = 20_000
) -> tuple[str, Optional[str]]:
    """``(content, reason)``: a looping or oversized block cut short.

    A unit of 1-60 characters repeated ``min_repeats`` more times in a row is
    a loop: everything from its second occurrence on is dropped.  A block over
    ``max_chars`` is cut there.  ``reason`` is None for a healthy block.
    """
    for match in _repeat_pattern(min_repeats).finditer(content):
        unit = match.group(1)
        if not unit.strip():
            continue  # runs of spaces or newlines are layout, not a loop
        cut = match.start() + len(unit)
        return content[
            :cut
        ].rstrip() + TRUNCATION_MARK, f"repetition:{unit.strip()[:30]}"
    if len(content) > max_chars:
        return content[:max_chars] + TRUNCATION_MARK, f"over_budget:{len(content)}"
    return content, None


def _blocks(pruned: dict[str, Any]) -> list[dict[str, Any]]:
    return list(pruned.get("parsing_res_list") or [])


def vl_page_result(
    page: PageImage,
    layout: dict[str, Any],
    *,
    engine: str,
    model: str,
    elapsed_ms: float,
    config_hash: str,
    min_repeats: int = 8,
    max_block_chars: int = 20_000,
) -> tuple[PageResult, dict[str, str]]:
    """One page's row from a layout-parsing result, and the page's images
    (relative path -> Base64 or URL) to write next to its markdown."""
    pruned = dict(layout.get("prunedResult") or layout.get("pruned_result") or {})
    markdown_part = layout.get("markdown") or {}
    markdown = str(markdown_part.get("text") or "")
    images = dict(markdown_part.get("images") or {})
    blocks, flags, texts = [], [], []
    for block in _blocks(pruned):
        block = dict(block)
        content = str(block.get("block_content") or "")
        guarded, reason = guard_block(content, min_repeats, max_block_chars)
        if reason:
            flags.append(f"block {block.get('block_id')}: {reason}")
            markdown = markdown.replace(content, guarded) if content else markdown
            block["block_content"] = guarded
            block["truncated"] = reason
        blocks.append(block)
        if guarded.strip() and block.get("block_label") not in NON_TEXT_LABELS:
            texts.append(guarded.strip())
    pruned["parsing_res_list"] = blocks
    pruned["is_start"] = markdown_part.get("isStart")
    pruned["is_end"] = markdown_part.get("isEnd")
    info = layout.get("dataInfo") or {}
    row = PageResult(
        doc_id=page.doc_id,
        source_uri=page.source_uri,
        page_index=page.page_index,
        page_count=page.page_count,
        width=int(info.get("width") or page.width),
        height=int(info.get("height") or page.height),
        engine=engine,
        model=model,
        text="\n\n".join(texts),
        markdown=markdown,
        result_json=json.dumps(pruned, ensure_ascii=False),
        line_count=len(texts),
        mean_score=None,
        elapsed_ms=elapsed_ms,
        config_hash=config_hash,
        orientation_deg=None,
        route="vl",
        flags="; ".join(flags) or None,
    )
    return row, images


# -- images the markdown links to ------------------------------------------


def _image_bytes(value: Any, fetch: Optional[Callable[[str], bytes]]):
    """JPEG/PNG bytes of one markdown image: bytes, a PIL image, Base64, or a
    URL (fetched with ``fetch``; None when it cannot be)."""
    if isinstance(value, bytes):
        return value
    if hasattr(value, "save"):  # a PIL image from the local pipeline
        buf = io.BytesIO()
        value.convert("RGB").save(buf, format="JPEG", quality=90)
        return buf.getvalue()
    text = str(value)
    if text.startswith(("http://", "https://")):
        if fetch is None:
            return None
        try:
            return fetch(text)
        except Exception as exc:  # noqa: BLE001 - the page keeps the URL
            _LOG.warning("could not fetch markdown image %s: %s", text, exc)
            return None
    return base64.b64decode(text, validate=False)


def place_images(
    markdown: str,
    images: dict[str, Any],
    folder: str,
    fetch: Optional[Callable[[str], bytes]] = None,
) -> tuple[str, list[tuple[str, bytes]], list[str]]:
    """Give a page's markdown images a home under the output.

    Each image (relative path -> bytes / PIL image / Base64 / URL) goes to
    ``folder/<its relative path>`` (``folder`` is relative to the output), and
    the markdown's links are rewritten to reach it from the markdown files
    (``../../images/...``).  An image given as a URL that cannot be fetched
    keeps the URL as its link and is reported.

    Returns:
        ``(markdown, [(path under the output, bytes)], problems)``.
    """
    from .visualize import MARKDOWN_TO_OUTPUT

    files: list[tuple[str, bytes]] = []
    links: dict[str, str] = {}
    problems: list[str] = []
    for rel, value in images.items():
        data = _image_bytes(value, fetch)
        if data is None:
            links[rel] = str(value)
            problems.append(f"image {rel}: not fetched")
            continue
        target = posixpath.join(folder, posixpath.normpath(rel).lstrip("./"))
        files.append((target, data))
        links[rel] = f"{MARKDOWN_TO_OUTPUT}/{target}"
    if links:
        alternatives = "|".join(
            re.escape(k) for k in sorted(links, key=len, reverse=True)
        )
        pattern = re.compile(r"""(?<=[("'])(""" + alternatives + r""")(?=[)"'\s])""")
        markdown = pattern.sub(lambda m: links[m.group(1)], markdown)
    return markdown, files, problems


def continuation_flags(result_json: str) -> tuple[Optional[bool], Optional[bool]]:
    """``(is_start, is_end)`` of a VL page row: does the page start a new
    paragraph, does it end one (None: unknown)."""
    try:
        pruned = json.loads(result_json or "{}")
    except json.JSONDecodeError:
        return None, None
    return pruned.get("is_start"), pruned.get("is_end")


# -- the local engine ------------------------------------------------------


def native_layout(item: Any, width: int, height: int, markdown_kwargs: dict) -> dict:
    """A PaddleOCRVL pipeline result in the service's ``layoutParsingResults[i]``
    shape (what ``vl_page_result`` takes)."""
    from .engine import prune_result

    try:  # the service's own call: pretty / formula numbers are request options
        md = item._to_markdown(**markdown_kwargs)
    except (AttributeError, TypeError):
        md = item.markdown
    flags = md.get("page_continuation_flags") or (None, None)
    return {
        "prunedResult": prune_result(item.json["res"]),
        "markdown": {
            "text": md.get("markdown_texts") or "",
            "images": dict(md.get("markdown_images") or {}),
            "isStart": flags[0],
            "isEnd": flags[1],
        },
        "dataInfo": {"width": width, "height": height},
    }


class VLEngine:
    """PaddleOCRVL held once per process (or once per machine when shared):
    ``predict(png) -> layout result``.  Calls are serialised."""

    def __init__(
        self, pipeline_kwargs: dict, predict_kwargs: dict, markdown_kwargs: dict
    ):
        os.environ.setdefault("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", "True")
        from paddleocr import PaddleOCRVL

        logging.getLogger("paddlex").setLevel(logging.WARNING)
        self._pipeline = PaddleOCRVL(**pipeline_kwargs)
        self._predict_kwargs = predict_kwargs
        self._markdown_kwargs = markdown_kwargs
        self._lock = threading.Lock()
        self._new_loads = 1

    def take_new_loads(self) -> int:
        with self._lock:
            new, self._new_loads = self._new_loads, 0
        return new

    def predict(self, png: bytes) -> dict:
        image = decode_png(png)
        with self._lock:
            results = list(self._pipeline.predict(image, **self._predict_kwargs))
        if not results:
            raise RuntimeError("PaddleOCRVL returned no result for the page")
        layout = native_layout(
            results[0], image.shape[1], image.shape[0], self._markdown_kwargs
        )
        # PIL images do not cross process boundaries well: encode them here.
        images = layout["markdown"]["images"]
        for key, value in images.items():
            images[key] = _image_bytes(value, None)
        return layout


#: PaddleOCRVL constructor settings taken from the config as they are.
_PIPELINE_FIELDS = (
    "pipeline_version",
    "layout_detection_model_name",
    "layout_detection_model_dir",
    "vl_rec_model_name",
    "vl_rec_model_dir",
    "vl_rec_server_url",
    "vl_rec_max_concurrency",
    "vl_rec_api_model_name",
    "vl_rec_api_key",
    "doc_orientation_classify_model_dir",
    "doc_unwarping_model_dir",
    "use_doc_orientation_classify",
    "use_doc_unwarping",
    "use_layout_detection",
    "use_chart_recognition",
)

#: Per-call settings of ``PaddleOCRVL.predict``: the service's request
#: parameters but the markdown switches (those apply to the markdown step).
_PREDICT_FIELDS = tuple(
    name
    for name in LAYOUT_REQUEST_FIELDS
    if name not in ("prettify_markdown", "show_formula_number")
)


class PaddleOCRVLModelHandler(PageModelHandler):
    """PaddleOCR-VL document parsing as a RunInference handler.

    One row per page: markdown (image links rewritten to the files written
    under ``images/``), the blocks in reading order as the page text, the full
    ``prunedResult`` as ``result_json`` (with ``is_start`` / ``is_end``), and
    ``flags`` when the degenerate-output guard cut a block.

    Example:
        >>> handler = PaddleOCRVLModelHandler(cfg.vl, cfg.fingerprint())
        >>> outcomes = pages | RunInference(handler)
    """

    namespace = "ocrbeam.paddleocr_vl"

    def __init__(self, config: PaddleOCRVLConfig, config_hash: str, fail_fast=False):
        super().__init__(config, config_hash, fail_fast)
        self._fetch_session = None

    def pipeline_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``paddleocr.PaddleOCRVL``."""
        cfg = self._config
        kwargs = {
            name: getattr(cfg, name)
            for name in _PIPELINE_FIELDS
            if getattr(cfg, name) is not None
        }
        kwargs["device"] = cfg.device
        if cfg.backend != "native":
            kwargs["vl_rec_backend"] = cfg.backend
        return kwargs

    def predict_kwargs(self) -> dict[str, Any]:
        """Per-call keyword arguments for ``PaddleOCRVL.predict``."""
        cfg = self._config
        return {
            name: getattr(cfg, name)
            for name in _PREDICT_FIELDS
            if getattr(cfg, name) is not None
        }

    def markdown_kwargs(self) -> dict[str, Any]:
        return {
            "pretty": self._config.prettify_markdown,
            "show_formula_number": self._config.show_formula_number,
        }

    def load_model(self):
        start = time.perf_counter()
        cfg = self._config
        if cfg.backend == "remote":
            self._pending_load_ms = 0.0
            return remote_client(cfg, RemoteLayoutClient, LAYOUT_REQUEST_FIELDS)
        missing = cfg.missing_model_dirs()
        if missing:
            raise FileNotFoundError(
                f"PaddleOCR-VL backend={cfg.backend} needs vl.{', vl.'.join(missing)} "
                "(ocrbeam never downloads weights)"
            )
        engine = VLEngine(
            self.pipeline_kwargs(), self.predict_kwargs(), self.markdown_kwargs()
        )
        self._loaded(start, f"{cfg.backend} on {cfg.device}")
        return engine

    @property
    def model_name(self) -> str:
        return self._config.vl_rec_model_name or "PaddleOCR-VL"

    def _fetch(self, url: str) -> bytes:
        """Images the hosted service returns as URLs: fetched once, kept."""
        import requests

        if self._fetch_session is None:
            self._fetch_session = requests.Session()
        response = self._fetch_session.get(url, timeout=self._config.remote_timeout_s)
        response.raise_for_status()
        return response.content

    def _process_page(self, page: PageImage, model):
        from .visualize import draw_layout, image_folder

        cfg = self._config
        start = time.perf_counter()
        layout = model.predict(page.image)
        elapsed = (time.perf_counter() - start) * 1000.0
        row, images = vl_page_result(
            page,
            layout,
            engine=f"paddleocr_vl/{cfg.backend}",
            model=self.model_name,
            elapsed_ms=elapsed,
            config_hash=self._config_hash,
            min_repeats=cfg.repetition_min_repeats,
            max_block_chars=cfg.max_block_chars,
        )
        folder = image_folder(page.source_uri, page.doc_id, page.page_index)
        markdown, files, problems = place_images(
            row.markdown, images, folder, self._fetch
        )
        if problems:
            flags = [row.flags] if row.flags else []
            row = row._replace(flags="; ".join(flags + problems))
        row = row._replace(markdown=markdown)
        artifacts = [
            PageArtifact(page.doc_id, page.source_uri, page.page_index, path, data)
            for path, data in files
        ]
        if cfg.visualize:
            blocks = json.loads(row.result_json).get("parsing_res_list") or []
            drawn = with_visualization(row, page.image, draw_layout(page.image, blocks))
            artifacts.extend(drawn.artifacts)
        return PageWithArtifacts(row, artifacts) if artifacts else row

    def share_model_across_processes(self) -> bool:
        cfg = self._config
        if cfg.share_across_processes is not None:
            return cfg.share_across_processes
        return cfg.backend == "native" and cfg.device.startswith("gpu")

    def model_copies(self) -> int:
        return self._config.model_copies
