"""PaddleOCR-VL document parsing as a RunInference handler.

The engine runs PaddleOCR's ``PaddleOCRVL`` pipeline in the worker
(``backend: native``, or layout detection in the worker and the VLM behind a
vllm / sglang server), or sends each page to a ``/layout-parsing`` service
(``backend: remote``); every engine gives a result of the service's shape,
which :func:`..convert.vl_page_result` turns into a row.
"""

from __future__ import annotations

import json
import time

from ocrbeam.engines.vl import VLEngine, VLSettings

from ..config import PaddleOCRVLConfig
from ..convert import vl_page_result
from ..records import PageImage, PageWithArtifacts
from .base import PageModelHandler, with_images, with_visualization


class PaddleOCRVLModelHandler(PageModelHandler):
    """PaddleOCR-VL document parsing as a RunInference handler.

    One row per page: markdown (image links rewritten to the files written
    under ``images/``), the blocks in reading order as the page text, the full
    ``prunedResult`` as ``result_json`` (with ``is_start`` / ``is_end``), and
    ``flags`` when the degenerate-output guard cut a block.

    Example:
        >>> handler = PaddleOCRVLModelHandler(cfg.vl, cfg.fingerprint())
        >>> outcomes = pages | RunInference(handler)
    """

    namespace = "ocrbeam.paddleocr_vl"

    def __init__(self, config: PaddleOCRVLConfig, config_hash: str, fail_fast=False):
        super().__init__(config, config_hash, fail_fast)
        self._fetch_session = None

    def engine_settings(self) -> VLSettings:
        """What this handler's engine is built with."""
        return VLSettings.from_config(self._config)

    def load_model(self):
        start = time.perf_counter()
        cfg = self._config
        if cfg.backend == "remote":
            from ocrbeam.engines.remote import RemoteLayoutClient, remote_client

            self._pending_load_ms = 0.0
            return remote_client(cfg, RemoteLayoutClient)
        missing = cfg.missing_model_dirs()
        if missing:
            raise FileNotFoundError(
                f"PaddleOCR-VL backend={cfg.backend} needs vl.{', vl.'.join(missing)} "
                "(ocrbeam never downloads weights)"
            )
        engine = VLEngine(self.engine_settings())
        self._loaded(start, f"{cfg.backend} on {cfg.device}")
        return engine

    @property
    def model_name(self) -> str:
        if self._config.backend == "remote":
            return self._config.vl_rec_model_name or "PaddleOCR-VL"
        return self._config.model_names()["vl_rec_model_name"]

    def _fetch(self, url: str) -> bytes:
        """Images the hosted service returns as URLs: fetched once, kept."""
        import requests

        if self._fetch_session is None:
            self._fetch_session = requests.Session()
        response = self._fetch_session.get(url, timeout=self._config.remote_timeout_s)
        response.raise_for_status()
        return response.content

    def _process_page(self, page: PageImage, model):
        cfg = self._config
        start = time.perf_counter()
        layout = model.predict(page.image)
        elapsed = (time.perf_counter() - start) * 1000.0
        row, images = vl_page_result(
            page,
            layout,
            engine=f"paddleocr_vl/{cfg.backend}",
            model=self.model_name,
            elapsed_ms=elapsed,
            config_hash=self._config_hash,
            min_repeats=cfg.repetition_min_repeats,
            max_block_chars=cfg.max_block_chars,
        )
        row, artifacts, problems = with_images(row, images, self._fetch)
        if problems:
            flags = [row.flags] if row.flags else []
            row = row._replace(flags="; ".join(flags + problems))
        if cfg.visualize:
            from ocrbeam.output.draw import draw_layout

            blocks = json.loads(row.result_json).get("parsing_res_list") or []
            drawn = with_visualization(row, draw_layout(page.image, blocks))
            artifacts.extend(drawn.artifacts)
        return PageWithArtifacts(row, artifacts) if artifacts else row

    def share_model_across_processes(self) -> bool:
        cfg = self._config
        if cfg.share_across_processes is not None:
            return cfg.share_across_processes
        return cfg.backend == "native" and cfg.device.startswith("gpu")

    def model_copies(self) -> int:
        return self._config.model_copies
