"""PaddleOCR-VL: what runs where the VL model is held.

:class:`VLSettings` is the one mapping from the ``vl`` config section to
``paddleocr.PaddleOCRVL``'s arguments; :class:`VLEngine` holds the pipeline
and turns a page into a layout-parsing result of the service's shape
(``layoutParsingResults[i]``).
"""

from __future__ import annotations

import base64
import dataclasses
import io
import logging
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Optional

from .images import decode_png
from .ppocrv5 import prune_result

if TYPE_CHECKING:
    from ocrbeam.transforms.config import PaddleOCRVLConfig

_LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class VLSettings:
    """``PaddleOCRVL(**pipeline_kwargs)``, ``predict(image, **predict_kwargs)``
    and the markdown step's switches."""

    pipeline_kwargs: dict[str, Any]
    predict_kwargs: dict[str, Any]
    markdown_kwargs: dict[str, Any]

    @classmethod
    def from_config(cls, config: PaddleOCRVLConfig) -> VLSettings:
        from ocrbeam.transforms.config import values_with

        # A folder this machine lacks is PaddleX's to report as it loads.
        check_model_dirs(config, only_present=True)
        pipeline = {**values_with(config, "pipeline"), **config.model_names()}
        if config.backend != "native":
            pipeline["vl_rec_backend"] = config.backend
        return cls(
            pipeline_kwargs=pipeline,
            predict_kwargs=values_with(config, "predict"),
            markdown_kwargs={
                "pretty": config.prettify_markdown,
                "show_formula_number": config.show_formula_number,
            },
        )


def check_model_dirs(config: PaddleOCRVLConfig, only_present: bool = False) -> None:
    """Refuse a layout or VL model folder that holds another model than the
    config loads (PaddleX would stop at load time with a less clear message).

    ``only_present``: skip folders this machine does not have (the launcher
    checks what it can; the workers check all as they load).

    Raises:
        ValueError: one line naming the key, the folder and both models.
    """
    from pathlib import Path

    from pydantic.alias_generators import to_camel

    from .languages import model_name_in

    if config.backend == "remote":
        return
    names = config.model_names()
    for dir_field, name_field in (
        ("layout_detection_model_dir", "layout_detection_model_name"),
        ("vl_rec_model_dir", "vl_rec_model_name"),
    ):
        model_dir = getattr(config, dir_field)
        if not model_dir or (only_present and not Path(model_dir).is_dir()):
            continue
        found, expected = model_name_in(model_dir), names[name_field]
        if found is None:
            raise ValueError(
                f"vl.{to_camel(dir_field)}={model_dir} has no inference.yml naming "
                f"its model (expected {expected})"
            )
        if found != expected:
            raise ValueError(
                f"vl.{to_camel(dir_field)}={model_dir} holds {found}, but "
                f"vl.pipelineVersion={config.pipeline_version} loads {expected}: "
                f"set vl.{to_camel(name_field)}={found} or the pipelineVersion "
                "that loads it"
            )


def image_bytes(value: Any, fetch: Optional[Callable[[str], bytes]] = None):
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


def native_layout(item: Any, width: int, height: int, markdown_kwargs: dict) -> dict:
    """A PaddleOCRVL pipeline result in the service's ``layoutParsingResults[i]``
    shape (what ``convert.vl_page_result`` takes)."""
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

    def __init__(self, settings: VLSettings):
        os.environ.setdefault("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", "True")
        from paddleocr import PaddleOCRVL

        logging.getLogger("paddlex").setLevel(logging.WARNING)
        self._pipeline = PaddleOCRVL(**settings.pipeline_kwargs)
        self._settings = settings
        self._lock = threading.Lock()
        self._new_loads = 1

    def take_new_loads(self) -> int:
        with self._lock:
            new, self._new_loads = self._new_loads, 0
        return new

    def predict(self, png: bytes) -> dict:
        image = decode_png(png)
        with self._lock:
            results = list(
                self._pipeline.predict(image, **self._settings.predict_kwargs)
            )
        if not results:
            raise RuntimeError("PaddleOCRVL returned no result for the page")
        layout = native_layout(
            results[0], image.shape[1], image.shape[0], self._settings.markdown_kwargs
        )
        # PIL images do not cross process boundaries well: encode them here.
        images = layout["markdown"]["images"]
        for key, value in images.items():
            images[key] = image_bytes(value)
        return layout
