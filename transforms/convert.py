"""Engine results -> page rows: what the OCR and split stages emit.

Pure functions over the engines' results (no Beam calls, no models), built on
:mod:`ocrbeam.text` for lines, reading order and markdown:

* :func:`to_page_result`: a PP-OCRv5 result (local or remote engine);
* :func:`structure_page_result`: the same with layout regions and tables
  (``route: structure``, :mod:`ocrbeam.text.structure`);
* :func:`text_layer_result`, :func:`blank_result`: pages that need no OCR;
* :func:`vl_page_result`: a PaddleOCR-VL layout-parsing result, with
  :func:`guard_block` (the degenerate-output guard) and :func:`place_images`
  (the figures its markdown links to).

Vision-language models sometimes loop: a block repeats one phrase until the
token budget runs out.  ``guard_block`` finds a phrase repeated many times in
a row (or a block over a length budget), keeps its first occurrence, marks
the cut, and the page row says which blocks were cut (``flags``).
"""

from __future__ import annotations

import functools
import json
import posixpath
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Optional

from ocrbeam.engines.ppocrv5 import prune_result
from ocrbeam.engines.vl import image_bytes
from ocrbeam.output.paths import MARKDOWN_TO_OUTPUT
from ocrbeam.text.lines import Line, lines_from_result, mean_score
from ocrbeam.text.markdown import page_markdown, page_text
from ocrbeam.text.order import reading_order
from ocrbeam.text.structure import page_structure

from .records import PageImage, PageResult


def to_page_result(
    page: PageImage,
    raw_result: Mapping[str, Any],
    *,
    engine: str,
    model: str,
    elapsed_ms: float,
    config_hash: str,
    orientation_deg: Optional[int] = None,
    route: str = "ocr",
    text_source: Optional[str] = None,
    text_source_reason: Optional[str] = None,
) -> PageResult:
    """Build the ``pages/`` row of one page from the engine's result dict.

    ``text`` and ``markdown`` follow the reading order of
    :mod:`ocrbeam.text.order`;
    ``result_json`` keeps the engine's lists as they are and adds
    ``reading_order``: indices into ``rec_texts`` in reading order.
    """
    pruned = prune_result(raw_result)
    engine_lines = lines_from_result(pruned)
    order = reading_order(engine_lines, page_height=page.height)
    lines = [engine_lines[i] for i in order]
    # The engine's own lists stay untouched; the order is added beside them.
    pruned["reading_order"] = [line.index for line in lines]
    return _row(
        page, pruned, lines, page_text(lines), page_markdown(lines),
        engine=engine, model=model, elapsed_ms=elapsed_ms,
        config_hash=config_hash, orientation_deg=orientation_deg, route=route,
        text_source=text_source, text_source_reason=text_source_reason,
    )  # fmt: skip


def structure_page_result(
    page: PageImage,
    raw_result: Mapping[str, Any],
    **meta: Any,
) -> tuple[PageResult, dict[str, tuple[float, float, float, float]]]:
    """The row of a page read with its layout (``route: structure``) and its
    figures (relative image path -> box in the page as OCR'd); ``meta`` as
    for :func:`to_page_result` (engine, model, elapsed_ms, config_hash,
    orientation_deg, text_source, text_source_reason).

    ``result_json`` is the OCR result with ``layout_det_res``,
    ``table_res_list``, ``parsing_res_list`` (PaddleOCR-VL's block shape) and
    ``reading_order`` (indices into ``rec_texts``, region by region)."""
    pruned = prune_result(raw_result)
    lines = lines_from_result(pruned)
    structure = page_structure(pruned, lines, page.width)
    pruned["parsing_res_list"] = structure.blocks
    pruned["reading_order"] = structure.order
    row = _row(
        page, pruned, lines, structure.text, structure.markdown,
        route="structure", **meta,
    )  # fmt: skip
    return row, structure.figures


def _row(
    page: PageImage,
    pruned: dict[str, Any],
    lines: Sequence[Line],
    text: str,
    markdown: str,
    *,
    engine: str,
    model: str,
    elapsed_ms: float,
    config_hash: str,
    orientation_deg: Optional[int] = None,
    route: str,
    text_source: Optional[str] = None,
    text_source_reason: Optional[str] = None,
) -> PageResult:
    return PageResult(
        doc_id=page.doc_id,
        source_uri=page.source_uri,
        page_index=page.page_index,
        page_count=page.page_count,
        width=page.width,
        height=page.height,
        engine=engine,
        model=model,
        text=text,
        markdown=markdown,
        result_json=json.dumps(pruned, ensure_ascii=False, separators=(",", ":")),
        line_count=len(lines),
        mean_score=mean_score(lines),
        elapsed_ms=round(elapsed_ms, 3),
        config_hash=config_hash,
        orientation_deg=orientation_deg,
        route=route,
        text_source=text_source,
        text_source_reason=text_source_reason,
    )


def text_layer_result(
    page: PageImage,
    lines: Sequence[tuple[str, float, float, float, float]],
    *,
    config_hash: str,
    elapsed_ms: float,
    reason: Optional[str] = None,
) -> PageResult:
    """The row of a page taken from its PDF text layer as lines (no models:
    route text_layer, and route auto without structure).

    ``lines`` are ``(text, x1, y1, x2, y2)`` in pixels of the page rendered at
    the configured dpi; they go through the same reading order and paragraph
    grouping as OCR'd lines.  ``result_json`` uses the OCR result's key names;
    ``reason``: why the text layer was taken.
    """
    from ocrbeam.engines.text_layer import as_ocr_result

    raw = {"model_settings": {"route": "text_layer"}, **as_ocr_result(lines)}
    return to_page_result(
        page,
        raw,
        engine="text_layer/pdfium",
        model="pdf-text-layer",
        elapsed_ms=elapsed_ms,
        config_hash=config_hash,
        route="text_layer",
        text_source="text_layer",
        text_source_reason=reason,
    )


def blank_result(page: PageImage, *, config_hash: str, elapsed_ms: float) -> PageResult:
    """The row of a page found blank before OCR."""
    return to_page_result(
        page,
        {"model_settings": {"route": "blank"}, "rec_texts": []},
        engine="none",
        model="none",
        elapsed_ms=elapsed_ms,
        config_hash=config_hash,
        route="blank",
    )


# -- PaddleOCR-VL ------------------------------------------------------------

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
    files: list[tuple[str, bytes]] = []
    links: dict[str, str] = {}
    problems: list[str] = []
    for rel, value in images.items():
        data = image_bytes(value, fetch)
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
