"""What the page engines' RunInference handlers share: metrics, the per-page
guard that turns a failure into a dead letter, batching."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Optional, Union

from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import ModelHandler

from ocrbeam.engines.isolation import WorkerCrashed, WorkerTimeout
from ocrbeam.output.paths import image_folder, visualize_path

from ..convert import place_images
from ..records import (
    DeadLetter,
    DeadLetterFactory,
    PageArtifact,
    PageImage,
    PageResult,
    PageWithArtifacts,
)

_LOG = logging.getLogger(__name__)

PageOutcome = Union[PageResult, PageWithArtifacts, DeadLetter]
#: A page's attempt: ``(outcome, None, ms)`` or ``(None, exception, ms)``.
Attempt = tuple[Optional[PageOutcome], Optional[Exception], float]
STAGE = "ocr"


def error_type_of(exc: Exception) -> str:
    """The ``error_type`` of an OCR failure."""
    if getattr(exc, "error_type", None):  # engines.remote.ServiceError
        return exc.error_type
    if isinstance(exc, WorkerTimeout):
        return "page_timeout"
    if isinstance(exc, WorkerCrashed):
        return "ocr_crashed"
    return "ocr_failed"


def with_visualization(row: PageResult, drawn: bytes) -> PageWithArtifacts:
    """``row`` with its drawn page image as an artifact."""
    artifact = PageArtifact(
        row.doc_id,
        row.source_uri,
        row.page_index,
        visualize_path(row.source_uri, row.doc_id, row.page_index),
        drawn,
    )
    return PageWithArtifacts(row, [artifact])


def with_images(
    row: PageResult,
    images: dict[str, Any],
    fetch: Optional[Callable[[str], bytes]] = None,
) -> tuple[PageResult, list[PageArtifact], list[str]]:
    """``row`` with the images its markdown links to placed under
    ``images/`` (:func:`..convert.place_images`, links rewritten), the image
    files as artifacts, and the images that could not be fetched."""
    folder = image_folder(row.source_uri, row.doc_id, row.page_index)
    markdown, files, problems = place_images(row.markdown, images, folder, fetch)
    artifacts = [
        PageArtifact(row.doc_id, row.source_uri, row.page_index, path, data)
        for path, data in files
    ]
    return row._replace(markdown=markdown), artifacts, problems


class PageModelHandler(ModelHandler[PageImage, PageOutcome, Any]):
    """The shared part of ocrbeam's page handlers.

    Subclasses build the engine in ``load_model`` (which must have a
    ``take_new_loads()`` method) and turn one page into a row in
    ``_process_page``.  ``run_inference`` returns one ``PageResult`` (or
    ``PageWithArtifacts``) or ``DeadLetter`` per page, so a failing page never
    takes its batch-mates down with it.  With ``fail_fast=True`` errors
    propagate instead (Beam's rule with no error handler: fail loudly, drop
    nothing).
    """

    namespace = "ocrbeam"
    #: The machine's engine pool this handler's pages go to (local runs, a
    #: :class:`ocrbeam.local.pool.SharedEnginePool`); None: engines of its own.
    engine_pool = None

    def __init__(self, config, config_hash: str, fail_fast: bool = False):
        super().__init__()
        self._config = config
        self._config_hash = config_hash
        self._fail_fast = fail_fast
        self._dead_letter = DeadLetterFactory(STAGE, config_hash)
        self._pending_load_ms: Optional[float] = None
        self._metrics = None

    def _process_page(self, page: PageImage, model) -> PageOutcome:
        raise NotImplementedError

    def _loaded(self, start: float, description: str) -> None:
        """Record a model load that began at ``start`` (perf_counter)."""
        self._pending_load_ms = (time.perf_counter() - start) * 1000.0
        _LOG.info(
            "loaded %s (%s) in %.0f ms in process %d",
            self.model_name,
            description,
            self._pending_load_ms,
            os.getpid(),
        )

    @property
    def model_name(self) -> str:
        raise NotImplementedError

    # -- inference ---------------------------------------------------------
    def _counters(self):
        if self._metrics is None:
            ns = self.get_metrics_namespace()
            self._metrics = {
                "loads": Metrics.counter(ns, "model_loads"),
                "load_ms": Metrics.distribution(ns, "model_load_ms"),
                "pages": Metrics.counter(ns, "pages"),
                "failed": Metrics.counter(ns, "failed_pages"),
                "lines": Metrics.counter(ns, "lines"),
                "page_ms": Metrics.distribution(ns, "page_ms"),
                "batch": Metrics.distribution(ns, "batch_size"),
                "flagged": Metrics.counter(ns, "flagged_pages"),
            }
        return self._metrics

    def _report_loads(self, model, counters) -> None:
        # Metrics cannot be reported from setup()/load_model(): report here.
        new = model.take_new_loads()
        if new > 0:
            counters["loads"].inc(new)
        if self._pending_load_ms is not None:
            counters["load_ms"].update(int(self._pending_load_ms))
            self._pending_load_ms = None

    def run_inference(
        self,
        batch: Sequence[PageImage],
        model,
        inference_args: Optional[dict[str, Any]] = None,
    ) -> Iterable[PageOutcome]:
        self._report_loads(model, self._counters())
        attempts = [self.attempt(page, model) for page in batch]
        return self.outcomes(batch, attempts, model)

    def outcomes(
        self, batch: Sequence[PageImage], attempts: Sequence[Attempt], model
    ) -> list[PageOutcome]:
        """One row or dead letter per attempted page (see :meth:`attempt`),
        counted in this handler's metrics.  Call it on the bundle's own
        thread: Beam's metrics belong to the thread that runs the bundle."""
        counters = self._counters()
        counters["batch"].update(len(batch))
        outcomes: list[PageOutcome] = []
        for page, (outcome, exc, elapsed_ms) in zip(batch, attempts, strict=True):
            if exc is not None:
                if self._fail_fast:
                    raise exc
                counters["failed"].inc()
                outcomes.append(
                    self._dead_letter(
                        page, error_type_of(exc), f"{type(exc).__name__}: {exc}"
                    )
                )
                continue
            row = outcome.row if isinstance(outcome, PageWithArtifacts) else outcome
            counters["pages"].inc()
            counters["lines"].inc(row.line_count)
            counters["page_ms"].update(int(elapsed_ms))
            if row.flags:
                counters["flagged"].inc()
            outcomes.append(outcome)
        self._report_loads(model, counters)  # restarts during these pages
        return outcomes

    def attempt(self, page: PageImage, model) -> Attempt:
        """``(outcome, None, ms)`` or ``(None, exception, ms)`` for one page.

        Never raises, touches no metric: safe on any thread (``outcomes``
        turns the result into a row or a dead letter and counts it)."""
        start = time.perf_counter()
        try:
            outcome = self._process_page(page, model)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a record
            return None, exc, (time.perf_counter() - start) * 1000.0
        return outcome, None, (time.perf_counter() - start) * 1000.0

    # -- RunInference hooks --------------------------------------------------
    def get_num_bytes(self, batch: Sequence[PageImage]) -> int:
        return sum(len(page.image) for page in batch)

    def get_metrics_namespace(self) -> str:
        return self.namespace

    def batch_elements_kwargs(self) -> dict[str, Any]:
        return {"min_batch_size": 1, "max_batch_size": self._config.batch_size}
