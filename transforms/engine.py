"""The PaddleOCR engine itself: what runs in an engine process.

No Apache Beam here: an isolated engine process imports this module (and
PaddleOCR), not Beam, so it starts about a second and a half sooner and
carries less memory.
"""

from __future__ import annotations

import io
import logging
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple, Optional

#: Keys the service drops from the pipeline's JSON to form ``prunedResult``.
_UNPRUNED_KEYS = ("input_path", "page_index")


def _to_builtin(value: Any) -> Any:
    """numpy arrays and scalars -> lists and Python numbers, recursively."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Mapping):
        return {str(k): _to_builtin(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_builtin(v) for v in value]
    return value


def prune_result(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The engine's JSON result in the shape of the service's ``prunedResult``."""
    return {k: _to_builtin(v) for k, v in raw.items() if k not in _UNPRUNED_KEYS}


class EngineOutput(NamedTuple):
    """What the engine returns for one page."""

    result: dict[str, Any]
    angle: Optional[int]  # detected clockwise rotation, None when not classified
    width: int  # size of the image as OCR'd (upright)
    height: int


class _NarrowedLines:
    """PaddleX's recogniser resize step, fed text-line crops narrowed by
    ``scale`` first.

    PP-OCRv5's recogniser costs time in proportion to a line's width after it
    is scaled to 48 px high, and it reads a line from one output column per 8
    input pixels: about 3 columns per Latin character at full width, more
    than the CTC decoder needs.  Narrowing the crops (not the height) cuts the
    columns, and the time, in proportion (bench/evaluate.py measures the
    accuracy side).
    """

    def __init__(self, resize, scale: float):
        self._resize = resize
        self.scale = scale

    def __call__(self, imgs):
        import cv2

        height = self._resize.rec_image_shape[1]
        narrowed = []
        for img in imgs:
            h, w = img.shape[:2]
            if w >= h:
                # One resize straight to the recogniser's height and the
                # narrowed width (PaddleX's own step then finds nothing to
                # do): narrowing first at the crop's own, lower resolution
                # would lose detail the model needs.
                width = max(1, math.ceil(height * w / h * self.scale))
                img = cv2.resize(img, (width, height))
            narrowed.append(img)
        return self._resize(narrowed)


def narrow_recognizer(predictor, scale: float) -> None:
    """Make a PaddleX text-recognition predictor narrow every line crop by
    ``scale`` before it reads it (1.0: leave it as it is).

    Raises:
        RuntimeError: this PaddleX release is laid out differently (the pins
            in pyproject.toml are the ones this was built for).
    """
    if scale >= 1.0:
        return
    try:
        resize = predictor.pre_tfs["ReisizeNorm"]
        resize.rec_image_shape[1]
    except (AttributeError, KeyError, TypeError, IndexError) as exc:
        raise RuntimeError(
            "ocr.textRecognitionWidthScale < 1 needs the PaddleX text "
            "recogniser's resize step (paddlex 3.7), which this install does "
            f"not have ({exc!r}); set textRecognitionWidthScale: 1.0"
        ) from exc
    if isinstance(resize, _NarrowedLines):
        resize = resize._resize
    predictor.pre_tfs["ReisizeNorm"] = _NarrowedLines(resize, scale)


def narrow_text_lines(pipeline, scale: float) -> None:
    """:func:`narrow_recognizer` for the recogniser of a ``paddleocr.PaddleOCR``."""
    if scale >= 1.0:
        return
    try:
        predictor = pipeline.paddlex_pipeline._pipeline.text_rec_model
    except AttributeError as exc:
        raise RuntimeError(
            "ocr.textRecognitionWidthScale < 1 needs PaddleOCR 3.7's pipeline "
            f"layout ({exc!r}); set textRecognitionWidthScale: 1.0"
        ) from exc
    narrow_recognizer(predictor, scale)


def create_pipeline(pipeline_kwargs: dict[str, Any], rec_width_scale: float = 1.0):
    """``paddleocr.PaddleOCR(**pipeline_kwargs)`` with ocrbeam's engine
    settings applied (what ocrbeam runs, and what bench/ calls direct use)."""
    os.environ.setdefault("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", "True")
    from paddleocr import PaddleOCR

    # PaddleX configures its logger on import: quiet its per-model INFO lines.
    logging.getLogger("paddlex").setLevel(logging.WARNING)
    pipeline = PaddleOCR(**pipeline_kwargs)
    narrow_text_lines(pipeline, rec_width_scale)
    return pipeline


class EngineServer:
    """The PaddleOCR pipeline and the call that OCRs one PNG page.

    Lives in the engine process (isolated) or in the worker itself.
    """

    def __init__(
        self,
        pipeline_kwargs: dict[str, Any],
        predict_kwargs: dict[str, Any],
        orientation_model: Optional[str] = None,
        threads: int = 1,
        rec_width_scale: float = 1.0,
    ):
        self._pipeline = create_pipeline(pipeline_kwargs, rec_width_scale)
        self.rec_width_scale = rec_width_scale
        self._predict_kwargs = predict_kwargs
        self._orientation = None
        if orientation_model:
            from .orientation import DocOrientationClassifier

            gpu = str(pipeline_kwargs.get("device", "cpu")).startswith("gpu")
            self._orientation = DocOrientationClassifier(
                Path(orientation_model), threads=threads, gpu=gpu
            )

    def ping(self) -> int:
        return os.getpid()

    def ocr(self, png: bytes) -> EngineOutput:
        """OCR one encoded page: the result as plain values, angle, OCR'd size."""
        image = decode_png(png)
        angle = None
        if self._orientation is not None:
            from .orientation import upright

            angle = self._orientation.angle(image)
            image = upright(image, angle)
        results = self._pipeline.predict(image, **self._predict_kwargs)
        result = prune_result(results[0].json["res"]) if results else {}
        if angle is not None:
            result["doc_preprocessor_res"] = {"angle": angle}
            result.setdefault("model_settings", {})["use_doc_orientation_classify"] = (
                True
            )
        return EngineOutput(result, angle, image.shape[1], image.shape[0])


def decode_png(data: bytes):
    """PNG/JPEG bytes -> numpy BGR array (what PaddleOCR expects)."""
    import numpy as np
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        rgb = np.asarray(img.convert("RGB"))
    return np.ascontiguousarray(rgb[:, :, ::-1])


def encode_png(image) -> bytes:
    """numpy BGR array -> PNG bytes."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image[:, :, ::-1]).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()
