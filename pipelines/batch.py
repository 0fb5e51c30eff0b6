"""Batch pipeline: documents in storage -> pages -> OCR -> Parquet sinks.

``build_pipeline`` only builds the graph; ``run`` only parses options, picks the
runner defaults and runs.  Tests call ``build_pipeline`` on a ``TestPipeline``.

Graph::

    ReadDocuments -> SplitPages (Reshuffle*) -> OcrPages (RunInference:
        PP-OCRv5, or PaddleOCR-VL with route vl)
        -> WritePages, AssembleDocuments -> WriteDocuments
        -> page files (cut-out images, drawn pages) -> WritePageFiles
    every stage's dead letters -> Flatten -> WriteDeadLetters

    * not with the local engine pool: there the pages are OCR'd in the stage
      that renders them (``ocr_blobs``).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Optional

import apache_beam as beam
from apache_beam.options.pipeline_options import (
    DirectOptions,
    PipelineOptions,
    StandardOptions,
)
from ocrbeam.transforms import accounting
from ocrbeam.transforms.bigquery import WriteBigQuery, errors_table
from ocrbeam.transforms.config import BigQueryConfig, PipelineConfig, load_config
from ocrbeam.transforms.documents import AssembleDocuments
from ocrbeam.transforms.handlers import (
    PageModelHandler,
    PPOCRv5ModelHandler,
    remove_shared_files,
)
from ocrbeam.transforms.ocr import OcrPages
from ocrbeam.transforms.options import OcrbeamOptions
from ocrbeam.transforms.pdf import SplitPages
from ocrbeam.transforms.read import ReadDocuments, expand_input
from ocrbeam.transforms.records import DeadLetter, DonePage, PageResult, typed
from ocrbeam.transforms.sinks import (
    WriteArtifacts,
    WriteDeadLetters,
    WriteDocuments,
    WritePages,
)
from ocrbeam.transforms.vl import PaddleOCRVLModelHandler

_LOG = logging.getLogger(__name__)

LOCAL_RUNNERS = {"FnApiRunner", "DirectRunner", "BundleBasedDirectRunner", None}


class UsageError(Exception):
    """The user's own mistake (missing input, unwritable output...): exit 2."""


@dataclass
class BatchOutputs:
    """The PCollections of a built graph, for tests and for callers to extend."""

    pages: beam.PCollection
    dead_letters: beam.PCollection
    writes: list = field(default_factory=list)
    documents: Optional[beam.PCollection] = None
    #: Tag of the machine-wide engine pool (local runs), if any.
    engine_pool_tag: Optional[str] = None
    #: Starts that pool's engines loading in the calling process and returns
    #: its handle (``PPOCRv5ModelHandler.warm_up``); None without a pool.
    start_engine_pool: Optional[Callable[[], Any]] = None


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
    from ocrbeam.transforms.sinks import join_uri

    rows = (
        pipeline
        | "ReadPreviousPages"
        >> beam.io.ReadFromParquet(join_uri(output, "pages", "run-*.parquet"))
        | "SameConfig" >> beam.ParDo(_HasConfig(config_hash))
        | "ToPageResult" >> beam.Map(_to_page_result)
    )
    return typed(rows, PageResult)


class OcrStages(NamedTuple):
    """What the shared SplitPages -> OcrPages stages produce."""

    pages: beam.PCollection  # PageResult, the pages that needed no OCR included
    split_dead: beam.PCollection  # DeadLetter
    ocr_dead: beam.PCollection  # DeadLetter
    artifacts: beam.PCollection  # PageArtifact: cut-out images, drawn pages


def page_handler(
    config: PipelineConfig,
    *,
    cpu_threads: Optional[int] = None,
    engine_pool: Optional[int] = None,
) -> PageModelHandler:
    """The RunInference handler the config's route calls for."""
    fingerprint = config.fingerprint()
    fail_fast = config.on_error == "fail"
    if config.route == "vl":
        return PaddleOCRVLModelHandler(config.vl, fingerprint, fail_fast=fail_fast)
    return PPOCRv5ModelHandler(
        config.ocr,
        fingerprint,
        fail_fast=fail_fast,
        cpu_threads=cpu_threads,
        engine_pool=engine_pool,
    )


def ocr_blobs(
    blobs: beam.PCollection,
    config: PipelineConfig,
    *,
    cpu_threads: Optional[int] = None,
    progress_dir: Optional[str] = None,
    handler: Optional[PageModelHandler] = None,
) -> OcrStages:
    """SplitPages -> OcrPages: the stages the batch and streaming graphs share.

    The split stage starts the handler's models loading (``warm_up``) while
    it renders.  With a machine-wide engine pool (``handler.pool_tag``) the
    pages are not reshuffled between the two: every worker's pages reach the
    same engines anyway, so they are OCR'd as they render, in the same stage,
    and Beam's local runner never holds the rendered pages of the whole run
    in memory."""
    fingerprint = config.fingerprint()
    fail_fast = config.on_error == "fail"
    handler = handler or page_handler(config, cpu_threads=cpu_threads)
    # route vl parses every page with the VLM: no text-layer shortcut.
    split_route = "ocr" if config.route == "vl" else config.route
    pages, split_dead, no_ocr = blobs | "SplitPages" >> SplitPages(
        config.render,
        fingerprint,
        fail_fast,
        progress_dir,
        config.source,
        split_route,
        warm_up=handler.warm_up,
        break_fusion=handler.pool_tag is None,
    )
    results, ocr_dead, artifacts = pages | "OcrPages" >> OcrPages(
        handler, fingerprint, fail_fast, progress_dir
    )
    results = typed((results, no_ocr) | "AllPages" >> beam.Flatten(), PageResult)
    return OcrStages(results, split_dead, ocr_dead, artifacts)


def write_bigquery(
    pages: beam.PCollection,
    dead: beam.PCollection,
    bigquery: BigQueryConfig,
    triggering_frequency: Optional[float] = None,
) -> list:
    """Pages and dead letters to BigQuery when ``pagesTable`` is set."""
    if not bigquery.pages_table:
        return []
    return [
        pages
        | "BigQueryPages"
        >> WriteBigQuery(
            bigquery,
            PageResult,
            bigquery.pages_table,
            triggering_frequency=triggering_frequency,
        ),
        dead
        | "BigQueryErrors"
        >> WriteBigQuery(
            bigquery,
            DeadLetter,
            errors_table(bigquery),
            triggering_frequency=triggering_frequency,
        ),
    ]


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
    fail_fast = config.on_error == "fail"
    previous = read_previous_pages(pipeline, output, fingerprint) if skip_done else None
    done = None
    if previous is not None:
        done = previous | "DonePages" >> beam.Map(_to_done_page).with_output_types(
            DonePage
        )
    blobs, read_dead = pipeline | "ReadDocuments" >> ReadDocuments(
        list(inputs), fingerprint, fail_fast, config.source, done
    )
    handler = page_handler(config, cpu_threads=cpu_threads, engine_pool=engine_pool)
    results, split_dead, ocr_dead, artifacts = ocr_blobs(
        blobs, config, progress_dir=progress_dir, handler=handler
    )
    dead = (read_dead, split_dead, ocr_dead) | "DeadLetters" >> beam.Flatten()
    outputs = BatchOutputs(
        pages=results,
        dead_letters=dead,
        engine_pool_tag=handler.pool_tag,
        start_engine_pool=handler.warm_up if handler.pool_tag else None,
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


def _check_output_writable(output: str) -> None:
    import fsspec

    probe = output.rstrip("/") + "/.ocrbeam-write-check"
    try:
        fs, path = fsspec.core.url_to_fs(probe)
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        with fs.open(path, "wb") as fh:
            fh.write(b"ok")
        fs.rm(path)
    except Exception as exc:  # noqa: BLE001 - reported to the user as one line
        raise UsageError(f"output {output} is not writable: {exc}") from None


DASK_RUNNER = "ocrbeam.dask_runner.DaskRunner"


def _use_fixed_dask_runner(options: PipelineOptions) -> None:
    """``--runner DaskRunner`` means ocrbeam's fixed subclass (see its module)."""
    standard = options.view_as(StandardOptions)
    if standard.runner in (
        "DaskRunner",
        "apache_beam.runners.dask.dask_runner.DaskRunner",
    ):
        standard.runner = DASK_RUNNER


class LocalPlan(NamedTuple):
    """How a run uses this machine (see ``_apply_local_defaults``)."""

    #: Intra-op threads per engine; None where the runner is not local.
    threads: Optional[int]
    #: Engines of the machine's pool; None: one engine per worker process.
    engines: Optional[int]


def _apply_local_defaults(
    options: PipelineOptions,
    workers: Optional[int],
    config: PipelineConfig,
    own_pipeline: bool,
) -> LocalPlan:
    """Default to FnApiRunner and use every core; return threads and engines.

    The default local run (no ``--runner``) keeps Beam in this process
    (``in_memory``: one bundle at a time, no SDK worker processes to start)
    and OCRs the pages in a pool of ``--workers`` engine processes, one per
    core by default, each page going to whichever engine is free.  Starting
    two SDK worker processes (each importing Beam) and stopping them cost
    7-10 s of a 32-page run on two cores, more than their rendering and
    writing in parallel gained.  Configs whose pages cannot be pooled (VL,
    ``ocr.backend=remote``, ``ocr.sharedEngines=false``), and an explicit
    ``--direct_running_mode``, run Beam's SDK worker processes as before:
    ``--workers`` of them, one per core by default.
    """
    standard = options.view_as(StandardOptions)
    direct = options.view_as(DirectOptions)
    cores = os.cpu_count() or 1
    explicit_mode = options.get_all_options(drop_default=True).get(
        "direct_running_mode"
    )
    engines = config.local_pool_engines(standard.runner, explicit_mode, workers)
    if standard.runner is None:
        # FnApiRunner directly: DirectRunner would first try to download Prism.
        standard.runner = "FnApiRunner"
        if engines and own_pipeline:
            direct.direct_running_mode = "in_memory"
            direct.direct_num_workers = 1
            return LocalPlan(max(1, cores // engines), engines)
        direct.direct_running_mode = explicit_mode or "multi_processing"
        direct.direct_num_workers = workers or cores
    elif workers:
        direct.direct_num_workers = workers
    if standard.runner not in LOCAL_RUNNERS:
        return LocalPlan(None, None)
    processes = direct.direct_num_workers or cores
    if direct.direct_running_mode != "multi_processing":
        return LocalPlan(cores, None)
    # Beam's worker processes, one engine each or all sharing the pool.
    pooled = own_pipeline and config.pools_local_engines and processes > 1
    return LocalPlan(max(1, cores // processes), processes if pooled else None)


def _start_engine_pool(outputs: BatchOutputs) -> Any:
    """Start the run's engine pool loading in this process; None without one,
    or if it cannot start here (the split stage then starts it, as in a
    pipeline run by other means)."""
    if outputs.start_engine_pool is None:
        return None
    try:
        return outputs.start_engine_pool()
    except Exception as exc:  # noqa: BLE001 - the split stage starts it then
        _LOG.warning("could not start the engines early (they load later): %s", exc)
        return None


def _stop_engine_pool(pool: Any) -> None:
    try:
        pool.close()
    except Exception as exc:  # noqa: BLE001 - the run's result stands
        _LOG.warning("stopping the engine pool failed: %s", exc)


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
            found = [ref.source_uri for ref in expand_input(pattern)]
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
    from ocrbeam.transforms.progress import ProgressMonitor

    options = PipelineOptions(list(argv or []))
    ours = options.view_as(OcrbeamOptions)
    if not ours.input:
        raise UsageError("at least one --input is required")
    if not ours.output:
        raise UsageError("--output is required")
    config = load_config(ours.config, ours.overrides)
    input_uris = _list_inputs(ours.input)
    _check_output_writable(ours.output)

    fingerprint = config.fingerprint()
    existing = accounting.existing_config_hashes(ours.output)
    if existing - {fingerprint} and not ours.force:
        raise UsageError(
            f"{ours.output} holds results of another configuration "
            f"({', '.join(sorted(existing - {fingerprint}))}; this one is "
            f"{fingerprint}): rerun with --force to redo everything with this "
            "configuration, or choose another --output"
        )
    skip_done = bool(existing) and not ours.force
    run_id = accounting.new_run_id()

    _use_fixed_dask_runner(options)
    plan = _apply_local_defaults(
        options, ours.workers, config, own_pipeline=test_pipeline is None
    )
    local = options.view_as(StandardOptions).runner in LOCAL_RUNNERS
    progress_dir = None
    if local and not ours.no_progress and test_pipeline is None:
        progress_dir = tempfile.mkdtemp(prefix="ocrbeam-progress-")

    pipeline = test_pipeline or beam.Pipeline(options=options)
    outputs = build_pipeline(
        pipeline,
        ours.input,
        ours.output,
        config,
        cpu_threads=plan.threads,
        progress_dir=progress_dir,
        run_id=run_id,
        skip_done=skip_done,
        engine_pool=plan.engines,
    )
    monitor = ProgressMonitor(progress_dir).start() if progress_dir else None
    # A local run's engine pool lives in this process: its engines load while
    # Beam plans the graph (and starts any worker processes, which connect).
    pool = _start_engine_pool(outputs)
    try:
        result = pipeline.run()
        result.wait_until_finish()
    finally:
        if monitor:
            monitor.stop()
            shutil.rmtree(progress_dir, ignore_errors=True)
        if pool is not None:
            _stop_engine_pool(pool)
        if outputs.engine_pool_tag:
            remove_shared_files(outputs.engine_pool_tag)
    accounting.cleanup_after_run(ours.output, run_id, force=ours.force)
    summary = accounting.summarize(ours.output, input_uris, fingerprint, run_id)
    path = accounting.write_summary(ours.output, summary)
    return RunOutcome(result, run_id, summary, path)
