"""Batch pipeline: documents in storage -> pages -> OCR -> Parquet sinks.

``build_pipeline`` only builds the graph; ``run`` only parses options, plans
the run on this machine, runs it and accounts for every input.  Tests call
``build_pipeline`` on a ``TestPipeline``.

Graph::

    ReadDocuments -> SplitPages (Reshuffle*) -> OcrPages (RunInference:
        PP-OCRv5, or PaddleOCR-VL with route vl)
        -> WritePages, AssembleDocuments -> WriteDocuments
        -> page files (cut-out images, drawn pages) -> WritePageFiles
    every stage's dead letters -> Flatten -> WriteDeadLetters

    * not with the local engine pool: there the pages are OCR'd in the stage
      that renders them, page by page onto the pool.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from ocrbeam.pipelines.stages import ocr_blobs, page_handler, write_bigquery
from ocrbeam.transforms.config import PipelineConfig, load_config
from ocrbeam.transforms.documents import AssembleDocuments
from ocrbeam.transforms.options import OcrbeamOptions
from ocrbeam.transforms.read import ReadDocuments
from ocrbeam.transforms.records import DonePage, PageResult, typed
from ocrbeam.transforms.sinks import (
    WriteArtifacts,
    WriteDeadLetters,
    WriteDocuments,
    WritePages,
)

from ocrbeam.errors import UsageError
from ocrbeam.local.plan import plan_run
from ocrbeam.local.session import LocalSession
from ocrbeam.output import accounting
from ocrbeam.output.paths import join_uri
from ocrbeam.storage import list_files

__all__ = ["BatchOutputs", "RunOutcome", "UsageError", "build_pipeline", "run"]


@dataclass
class BatchOutputs:
    """The PCollections of a built graph, for tests and for callers to extend."""

    pages: beam.PCollection
    dead_letters: beam.PCollection
    writes: list = field(default_factory=list)
    documents: Optional[beam.PCollection] = None
    #: The machine-wide engine pool the pages go to (local runs), if any: a
    #: :class:`ocrbeam.local.pool.SharedEnginePool` to start and stop.
    engine_pool: Any = None


def _to_done_page(row: PageResult) -> DonePage:
    return DonePage(row.source_uri, row.doc_id, row.page_index)


def _to_page_result(row: dict) -> PageResult:
    return PageResult(**{name: row.get(name) for name in PageResult._fields})


class _HasConfig(beam.DoFn):
    def __init__(self, config_hash: str):
        self._config_hash = config_hash

    def process(self, row: dict):
        if row["config_hash"] == self._config_hash:
            yield row


def read_previous_pages(pipeline: beam.Pipeline, output: str, config_hash: str):
    """``PageResult`` rows already under ``output`` with this config."""
    rows = (
        pipeline
        | "ReadPreviousPages"
        >> beam.io.ReadFromParquet(join_uri(output, "pages", "run-*.parquet"))
        | "SameConfig" >> beam.ParDo(_HasConfig(config_hash))
        | "ToPageResult" >> beam.Map(_to_page_result)
    )
    return typed(rows, PageResult)


def build_pipeline(
    pipeline: beam.Pipeline,
    inputs: Sequence[str],
    output: Optional[str],
    config: PipelineConfig,
    *,
    cpu_threads: Optional[int] = None,
    progress_dir: Optional[str] = None,
    run_id: str = "manual",
    skip_done: bool = False,
    engine_pool: Optional[int] = None,
) -> BatchOutputs:
    """Add the batch OCR graph to ``pipeline``; write under ``output`` if given.

    With ``skip_done``, pages that ``output`` already holds for this config are
    read back and neither rendered nor OCR'd again.  ``engine_pool``: the
    number of engines of a pool shared by this machine's bundles (local
    runs); None: one engine per worker process.
    """
    fingerprint = config.fingerprint()
    previous = read_previous_pages(pipeline, output, fingerprint) if skip_done else None
    done = None
    if previous is not None:
        done = previous | "DonePages" >> beam.Map(_to_done_page).with_output_types(
            DonePage
        )
    blobs, read_dead = pipeline | "ReadDocuments" >> ReadDocuments(
        list(inputs), fingerprint, config.fail_fast, config.source, done
    )
    handler = page_handler(config, cpu_threads=cpu_threads, engine_pool=engine_pool)
    results, split_dead, ocr_dead, artifacts = ocr_blobs(
        blobs, config, progress_dir=progress_dir, handler=handler
    )
    dead = (read_dead, split_dead, ocr_dead) | "DeadLetters" >> beam.Flatten()
    outputs = BatchOutputs(
        pages=results, dead_letters=dead, engine_pool=handler.engine_pool
    )
    outputs.writes.extend(write_bigquery(results, dead, config.sink.bigquery))
    if output:
        outputs.writes.append(
            results | "WritePages" >> WritePages(output, config.sink, run_id)
        )
        outputs.writes.append(
            dead | "WriteDeadLetters" >> WriteDeadLetters(output, config.sink, run_id)
        )
        outputs.writes.append(artifacts | "WritePageFiles" >> WriteArtifacts(output))
        if config.sink.documents:
            every_page = results
            if previous is not None:
                every_page = typed(
                    (results, previous) | "WithPreviousPages" >> beam.Flatten(),
                    PageResult,
                )
            outputs.documents = every_page | "AssembleDocuments" >> AssembleDocuments()
            outputs.writes.append(
                outputs.documents
                | "WriteDocuments" >> WriteDocuments(output, config.sink, run_id)
            )
    return outputs


@dataclass
class RunOutcome:
    """What ``run`` returns: Beam's result, the run id and the accounting."""

    result: Any
    run_id: str
    summary: Optional[accounting.Summary]
    summary_path: Optional[str]


def _list_inputs(patterns: Sequence[str]) -> list[str]:
    uris: list[str] = []
    for pattern in patterns:
        try:
            found = [uri for uri, _info in list_files(pattern)]
        except Exception as exc:  # noqa: BLE001 - e.g. unknown protocol
            raise UsageError(f"cannot list input {pattern}: {exc}") from None
        if not found:
            raise UsageError(f"input {pattern} matches no file")
        uris.extend(found)
    return uris


def run(
    argv: Optional[Sequence[str]] = None, test_pipeline: Optional[beam.Pipeline] = None
) -> RunOutcome:
    """Parse options, run the batch pipeline, account for every input.

    Raises:
        UsageError, ConfigError: the user's inputs, output or config are wrong.
    """
    options = PipelineOptions(list(argv or []))
    ours = options.view_as(OcrbeamOptions)
    if not ours.input:
        raise UsageError("at least one --input is required")
    if not ours.output:
        raise UsageError("--output is required")
    config = load_config(ours.config, ours.overrides)
    input_uris = _list_inputs(ours.input)
    accounting.check_writable(ours.output)

    fingerprint = config.fingerprint()
    existing = accounting.existing_config_hashes(ours.output)
    if existing - {fingerprint} and not ours.force:
        raise UsageError(
            f"{ours.output} holds results of another configuration "
            f"({', '.join(sorted(existing - {fingerprint}))}; this one is "
            f"{fingerprint}): rerun with --force to redo everything with this "
            "configuration, or choose another --output"
        )
    run_id = accounting.new_run_id()

    plan = plan_run(options, ours.workers, config, own_pipeline=test_pipeline is None)
    session = LocalSession(
        show_progress=plan.local and not ours.no_progress and test_pipeline is None
    )
    pipeline = test_pipeline or beam.Pipeline(options=options)
    outputs = build_pipeline(
        pipeline,
        ours.input,
        ours.output,
        config,
        cpu_threads=plan.threads,
        progress_dir=session.progress_dir,
        run_id=run_id,
        skip_done=bool(existing) and not ours.force,
        engine_pool=plan.engines,
    )
    result = session.run(pipeline, outputs.engine_pool)
    accounting.cleanup_after_run(ours.output, run_id, force=ours.force)
    summary = accounting.summarize(ours.output, input_uris, fingerprint, run_id)
    path = accounting.write_summary(ours.output, summary)
    return RunOutcome(result, run_id, summary, path)
