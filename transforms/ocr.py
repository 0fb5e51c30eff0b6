"""OcrPages: RunInference over page images, failures turned into dead letters,
and the files that come with a page (cut-out images, drawn pages) split off."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Optional

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.ml.inference.base import ModelHandler, RunInference

from .progress import ProgressReporter
from .records import (
    DeadLetter,
    PageArtifact,
    PageImage,
    PageResult,
    PageWithArtifacts,
    typed,
)

DEAD_LETTER_TAG = "dead_letter"
ARTIFACT_TAG = "artifact"


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


class _BatchFailuresToDeadLetters(beam.DoFn):
    """A batch whose inference raised (outside the per-page guard): one row per page."""

    def __init__(self, config_hash: str, progress: ProgressReporter):
        self._config_hash = config_hash
        self._progress = progress

    def process(self, failure) -> Iterable[DeadLetter]:
        batch, (exc_type, exc_repr, _traceback) = failure
        name = getattr(exc_type, "__name__", str(exc_type))
        for page in batch if isinstance(batch, (list, tuple)) else [batch]:
            self._progress.add(pages_failed=1)
            yield DeadLetter(
                doc_id=getattr(page, "doc_id", None),
                source_uri=getattr(page, "source_uri", "<unknown>"),
                page_index=getattr(page, "page_index", None),
                stage="ocr",
                error_type="ocr_failed",
                message=f"{name}: {exc_repr}",
                config_hash=self._config_hash,
                page_count=getattr(page, "page_count", None),
            )


class OcrPages(beam.PTransform):
    """Run an OCR model handler over pages; split results from dead letters.

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
    ):
        super().__init__()
        self._handler = handler
        self._config_hash = config_hash
        self._fail_fast = fail_fast
        self._progress = ProgressReporter(progress_dir, "ocr")

    def expand(self, pages):
        pages = typed(pages, PageImage)
        if self._fail_fast:
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
