"""RunInference model handlers of ocrbeam's page engines.

* :mod:`.base`: what every page handler shares (metrics, the per-page guard
  that turns a failure into a dead letter, batching);
* :mod:`.ppocrv5`: PP-OCRv5 (local engine, the local engine pool, or a
  remote ``/ocr`` service);
* :mod:`.vl`: PaddleOCR-VL (native, a VLM server, or a remote
  ``/layout-parsing`` service).
"""

from .base import PageModelHandler, PageOutcome
from .ppocrv5 import PPOCRv5ModelHandler
from .vl import PaddleOCRVLModelHandler

__all__ = [
    "PPOCRv5ModelHandler",
    "PageModelHandler",
    "PageOutcome",
    "PaddleOCRVLModelHandler",
]
