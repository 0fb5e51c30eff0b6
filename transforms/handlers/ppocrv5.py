"""PP-OCRv5 (PaddleOCR 3.x general OCR pipeline) as a RunInference handler."""

from __future__ import annotations

import dataclasses
import functools
import time
from typing import Optional

from ocrbeam.engines.host import EngineHost
from ocrbeam.engines.ppocrv5 import (
    EngineServer,
    EngineSettings,
    default_threads,
    recognition_model_label,
)
from ocrbeam.engines.structure import StructureSettings

from ..config import PPOCRv5Config
from ..convert import structure_page_result, to_page_result
from ..records import PageArtifact, PageImage, PageWithArtifacts
from .base import PageModelHandler, PageOutcome, with_images, with_visualization


class PPOCRv5ModelHandler(PageModelHandler):
    """PP-OCRv5 as a RunInference handler.

    The engine is built in ``load_model`` only: RunInference calls it once per
    worker process and shares the result between the process's threads
    through its shared handle.  Nothing heavy is built in ``__init__`` (the
    handler is pickled to workers) or per element.  With ``engine_pool`` (a
    local run), ``load_model`` returns a handle on the machine's pool of
    engines instead (:mod:`ocrbeam.local.pool`).

    Example:
        >>> handler = PPOCRv5ModelHandler(PPOCRv5Config(), config_hash="abc")
        >>> outcomes = pages | RunInference(handler)
    """

    namespace = "ocrbeam.ppocrv5"

    def __init__(
        self,
        config: PPOCRv5Config,
        config_hash: str,
        fail_fast: bool = False,
        cpu_threads: Optional[int] = None,
        engine_pool: Optional[int] = None,
        structure: Optional[StructureSettings] = None,
        text_layer: Optional[str] = None,
    ):
        """``engine_pool``: engines of a pool shared by the machine's worker
        processes (local runs); None: one engine per worker process.
        ``structure``: the layout and table models' settings (routes auto
        and structure), None: lines only.  ``text_layer``: pages may come
        with their own text layer (route auto), checked as
        ``render.textLayer`` says (``auto`` | ``trust``); PP-OCRv5 is then
        built at the first page that needs OCR."""
        super().__init__(config, config_hash, fail_fast)
        self._structure = structure
        self._text_layer = text_layer if structure is not None else None
        self._requested_threads = config.cpu_threads or cpu_threads
        self._model_label: Optional[str] = None  # made on the worker, once
        self.engine_pool = None
        if engine_pool and config.backend != "remote":
            from ocrbeam.local.pool import SharedEnginePool

            self.engine_pool = SharedEnginePool(self.engine_factory(), engine_pool)

    def __getstate__(self):
        # The label depends on the CPU: each worker makes its own.
        return {**self.__dict__, "_model_label": None}

    @property
    def cpu_threads(self) -> int:
        return self._requested_threads or default_threads()

    def engine_settings(self) -> EngineSettings:
        """What this handler's engines are built with."""
        settings = EngineSettings.from_config(self._config, self.cpu_threads)
        return dataclasses.replace(
            settings,
            structure=self._structure,
            ocr_on_demand=self._text_layer in ("auto", "trust"),
            check_text_layer=self._text_layer != "trust",
        )

    def engine_factory(self):
        """Builds one engine host (picklable: a pool builds its engines with it)."""
        config = self._config
        return functools.partial(
            EngineHost,
            functools.partial(EngineServer, self.engine_settings()),
            isolate=config.isolate,
            timeout_s=config.page_timeout_s,
            recycle_after=config.recycle_after_pages,
        )

    def load_model(self):
        start = time.perf_counter()
        if self._config.backend == "remote":
            from ocrbeam.engines.remote import RemoteOcrClient, remote_client

            self._pending_load_ms = 0.0
            return remote_client(self._config, RemoteOcrClient)
        if self.engine_pool is not None:
            self._pending_load_ms = 0.0  # the pool reports its engines' loads
            return self.engine_pool.handle()
        engine = self.engine_factory()()
        self._loaded(
            start,
            f"{self._config.backend}, {self.cpu_threads} threads, "
            + ("isolated" if self._config.isolate else "in process"),
        )
        return engine

    @property
    def model_name(self) -> str:
        # On the worker: its CPU decides whether the int8 recogniser runs.
        if self._model_label is None:
            self._model_label = (
                f"{self._config.text_detection_model_name}+"
                f"{recognition_model_label(self._config)}"
            )
        return self._model_label

    def _process_page(self, page: PageImage, model) -> PageOutcome:
        start = time.perf_counter()
        if page.text_layer is not None and self._text_layer is not None:
            out = model.predict(page.image, page.text_layer)
        else:
            out = model.predict(page.image)
        as_read = page._replace(width=out.width, height=out.height)
        source = out.result.get("text_source") or {}
        why = source.get("reason") or page.text_note
        if source.get("source") == "text_layer":
            engine, model_name = "text_layer/pdfium", "pdf-text-layer"
            read_from = dict(text_source="text_layer", text_source_reason=why)
        else:
            engine, model_name = f"ppocrv5/{self._config.backend}", self.model_name
            read_from = dict(text_source="ocr", text_source_reason=why)
        common = dict(
            orientation_deg=out.angle,
            engine=engine,
            model=model_name,
            elapsed_ms=(time.perf_counter() - start) * 1000.0,
            config_hash=self._config_hash,
            **read_from,
        )
        figures: dict = {}
        if self._structure is not None:
            row, figures = structure_page_result(as_read, out.result, **common)
        else:
            row = to_page_result(as_read, out.result, **common)
        if not (self._config.visualize or figures):
            return row
        from ocrbeam.engines.images import decode_png, encode_png
        from ocrbeam.engines.orientation import upright

        # Boxes are in the coordinates of the page as OCR'd (turned upright):
        # the page is decoded only to be cut or turned.
        image = None
        if out.angle or figures:
            image = upright(decode_png(page.image), out.angle or 0)
        artifacts: list[PageArtifact] = []
        if figures:
            row, artifacts, _ = with_images(row, _cut_out(image, figures))
        if self._config.visualize:
            from ocrbeam.output.draw import draw_ocr

            png = encode_png(image) if out.angle else page.image
            drawn = draw_ocr(png, out.result.get("rec_polys") or [])
            artifacts.extend(with_visualization(row, drawn).artifacts)
        return PageWithArtifacts(row, artifacts)

    def share_model_across_processes(self) -> bool:
        return False


def _cut_out(image, figures: dict) -> dict[str, bytes]:
    """Each figure's box cut out of the (upright, BGR) page as JPEG bytes."""
    import io

    from PIL import Image

    height, width = image.shape[:2]
    cut = {}
    for name, (x1, y1, x2, y2) in figures.items():
        box = (
            max(0, int(x1)),
            max(0, int(y1)),
            min(width, int(x2)),
            min(height, int(y2)),
        )
        if box[2] <= box[0] or box[3] <= box[1]:
            continue
        crop = image[box[1] : box[3], box[0] : box[2], ::-1]
        buf = io.BytesIO()
        Image.fromarray(crop).save(buf, format="JPEG", quality=90)
        cut[name] = buf.getvalue()
    return cut
