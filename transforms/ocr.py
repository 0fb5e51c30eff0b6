"""OcrPages: a page handler over page images, failures turned into dead
letters, and the files that come with a page (cut-out images, drawn pages)
split off.

The handler runs one of two ways, chosen by whoever builds the graph:

* ``RUN_INFERENCE``: Beam's ``RunInference`` (batches of pages, one engine
  per worker process; every runner);
* ``ENGINE_POOL``: page by page onto the machine's engine pool
  (``_PooledInference``; local runs, see :mod:`ocrbeam.local.pool`).
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Optional

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.ml.inference.base import ModelHandler, RunInference

from ocrbeam.local.progress import ProgressReporter

from .records import (
    DeadLetter,
    DeadLetterFactory,
    PageArtifact,
    PageImage,
    PageResult,
    PageWithArtifacts,
    typed,
)

DEAD_LETTER_TAG = "dead_letter"
ARTIFACT_TAG = "artifact"
#: How OcrPages runs its handler (module doc).
RUN_INFERENCE = "run_inference"
ENGINE_POOL = "engine_pool"


class _RouteOutcomes(beam.DoFn):
    """PageResult -> main output; DeadLetter -> dead-letter output; a page's
    artifacts -> artifact output."""

    def __init__(self, progress: ProgressReporter):
        self._progress = progress

    def process(self, outcome) -> Iterable:
        if isinstance(outcome, DeadLetter):
            self._progress.add(pages_failed=1)
            yield pvalue.TaggedOutput(DEAD_LETTER_TAG, outcome)
        else:
            self._progress.add(pages_done=1)
            if isinstance(outcome, PageWithArtifacts):
                for artifact in outcome.artifacts:
                    yield pvalue.TaggedOutput(ARTIFACT_TAG, artifact)
                outcome = outcome.row
            yield outcome

    def finish_bundle(self):
        self._progress.flush()


class _PooledInference(beam.DoFn):
    """OCR pages on the machine's shared engine pool, keeping every engine fed.

    RunInference hands its handler one batch at a time and waits for all of
    it: the bundle's thread, which also reads and renders the pages, stands
    still meanwhile.  With a pool that costs twice per batch: the engines
    wait while the next batch renders, and all but the last idle while the
    batch's last pages finish.  Here each page goes to the pool as soon as it
    is rendered and the thread goes on rendering; up to two pages per engine
    are in flight (one running, one waiting for the engine that frees
    first), and finished pages leave as they finish.  The handler is the
    same RunInference handler: ``load_model`` (a handle on the pool),
    ``attempt`` on the pool's threads, ``outcomes`` (metrics, dead letters)
    back on the bundle's thread.
    """

    def __init__(self, handler):
        self._handler = handler
        self._model = None
        self._executor: Optional[ThreadPoolExecutor] = None
        self._in_flight: dict = {}

    def setup(self):
        self._model = self._handler.load_model()
        self._limit = 2 * max(1, getattr(self._model, "concurrency", 1))
        self._executor = ThreadPoolExecutor(
            self._limit, thread_name_prefix="ocrbeam-pooled-page"
        )

    def start_bundle(self):
        self._in_flight = {}

    def process(self, page, element=beam.DoFn.WindowedValueParam):
        future = self._executor.submit(self._handler.attempt, page, self._model)
        self._in_flight[future] = element
        if len(self._in_flight) >= self._limit:
            wait(self._in_flight, return_when=FIRST_COMPLETED)
        yield from self._finished()

    def finish_bundle(self):
        wait(self._in_flight)
        yield from self._finished()

    def _finished(self) -> Iterable:
        """The pages done so far, each in its own page's window."""
        done = [f for f in self._in_flight if f.done()]
        if not done:
            return
        elements = [self._in_flight.pop(f) for f in done]
        outcomes = self._handler.outcomes(
            [e.value for e in elements], [f.result() for f in done], self._model
        )
        for element, outcome in zip(elements, outcomes, strict=True):
            yield element.with_value(outcome)

    def teardown(self):
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)


class _BatchFailuresToDeadLetters(beam.DoFn):
    """A batch whose inference raised (outside the per-page guard): one row per page."""

    def __init__(self, config_hash: str, progress: ProgressReporter):
        self._dead_letter = DeadLetterFactory("ocr", config_hash)
        self._progress = progress

    def process(self, failure) -> Iterable[DeadLetter]:
        batch, (exc_type, exc_repr, _traceback) = failure
        name = getattr(exc_type, "__name__", str(exc_type))
        for page in batch if isinstance(batch, (list, tuple)) else [batch]:
            self._progress.add(pages_failed=1)
            yield self._dead_letter(page, "ocr_failed", f"{name}: {exc_repr}")


class OcrPages(beam.PTransform):
    """Run a page handler over pages; split results from dead letters.

    ``inference`` is how: ``RUN_INFERENCE`` (Beam's RunInference) or
    ``ENGINE_POOL`` (page by page onto a handler's local engine pool).

    Returns:
        ``(results, dead_letters, artifacts)``: PCollections of ``PageResult``,
        ``DeadLetter`` and ``PageArtifact`` (files to write under the output:
        images cut out of pages, drawn pages with ``visualize``).

    Example:
        >>> handler = PPOCRv5ModelHandler(cfg.ocr, cfg.fingerprint())
        >>> results, errors, files = pages | OcrPages(handler, cfg.fingerprint())
    """

    def __init__(
        self,
        handler: ModelHandler,
        config_hash: str,
        fail_fast: bool = False,
        progress_dir: Optional[str] = None,
        inference: str = RUN_INFERENCE,
    ):
        super().__init__()
        if inference not in (RUN_INFERENCE, ENGINE_POOL):
            raise ValueError(f"unknown inference strategy {inference!r}")
        self._inference = inference
        self._handler = handler
        self._config_hash = config_hash
        self._fail_fast = fail_fast
        self._progress = ProgressReporter(progress_dir, "ocr")

    def expand(self, pages):
        pages = typed(pages, PageImage)
        if self._inference == ENGINE_POOL:
            # Every failure is already a per-page record (_PooledInference).
            outcomes = pages | "OcrOnEnginePool" >> beam.ParDo(
                _PooledInference(self._handler)
            )
            batch_dead = None
        elif self._fail_fast:
            outcomes = pages | "RunInference" >> RunInference(self._handler)
            batch_dead = None
        else:
            outcomes, failed = (
                pages
                | "RunInference"
                >> RunInference(self._handler).with_exception_handling()
            )
            batch_dead = failed.failed_inferences | "BatchFailures" >> beam.ParDo(
                _BatchFailuresToDeadLetters(self._config_hash, self._progress)
            ).with_output_types(DeadLetter)
        routed = outcomes | "Route" >> beam.ParDo(
            _RouteOutcomes(self._progress)
        ).with_outputs(DEAD_LETTER_TAG, ARTIFACT_TAG, main="results")
        results = typed(routed.results, PageResult)
        dead = typed(routed[DEAD_LETTER_TAG], DeadLetter)
        if batch_dead is not None:
            dead = (dead, batch_dead) | "AllOcrFailures" >> beam.Flatten()
        artifacts = typed(routed[ARTIFACT_TAG], PageArtifact)
        return results, typed(dead, DeadLetter), artifacts
