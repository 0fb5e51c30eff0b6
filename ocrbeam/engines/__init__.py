"""Beam-free worker code: what runs in the renderer and engine processes.

* :mod:`.isolation`: native work in restartable child processes, with typed
  crash and timeout errors;
* :mod:`.host`: one engine, isolated or in process, restarted after a crash
  and recycled after N pages;
* :mod:`.render`: documents to page images (pypdfium2, Pillow);
* :mod:`.ppocrv5`: the PP-OCRv5 engine and its settings from the config;
* :mod:`.paddlex_patches`: ocrbeam's changes to PaddleX's pipeline;
* :mod:`.orientation`: the 4-class page-orientation classifier;
* :mod:`.languages`: which languages a recogniser reads (``ocr.lang``);
* :mod:`.vl`: the PaddleOCR-VL engine;
* :mod:`.remote`: the PaddleOCR / PaddleX service client (backend remote);
* :mod:`.images`: page images as bytes and as arrays.

None of these modules imports Apache Beam: engine and renderer processes
import them, and start faster and carry less memory without it.
"""
