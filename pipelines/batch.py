"""Batch pipeline: documents in storage -> pages -> OCR -> Parquet sinks.

``build_pipeline`` only builds the graph; ``run`` only parses options, plans
the run on this machine, runs it and accounts for every input.  Tests call
``build_pipeline`` on a ``TestPipeline``.

Graph::

    ReadDocuments -> SplitPages (Reshuffle*) -> OcrPages (RunInference:
        PP-OCRv5, or PaddleOCR-VL with route vl)
        -> WritePages**, AssembleDocuments -> WriteDocuments
        -> page files (cut-out images, drawn pages) -> WritePageFiles
    every stage's dead letters -> Flatten -> WriteDeadLetters**

    * not in local runs: there a document's pages stay in the stage that
      splits it (OCR'd page by page onto the engine pool, by default).
    ** local runs: CommitRows on each stage's rows instead, written as they
      come (so a killed run keeps them).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from ocrbeam.pipelines.stages import ocr_blobs, page_handler, write_bigquery
from ocrbeam.transforms.commit import CommitRows
from ocrbeam.transforms.config import (
    ConfigError,
    PipelineConfig,
    load_config,
    with_overrides,
)
from ocrbeam.transforms.documents import AssembleDocuments
from ocrbeam.transforms.options import OcrbeamOptions
from ocrbeam.transforms.read import ReadDocuments
from ocrbeam.transforms.records import DonePage, PageResult, typed
from ocrbeam.transforms.sinks import (
    WriteArtifacts,
    WriteDeadLetters,
    WriteDocuments,
    WriteMarkdownFiles,
    WritePages,
)

from ocrbeam.errors import RunFailed, UsageError
from ocrbeam.local.plan import plan_run, register_runner_options
from ocrbeam.local.session import LocalSession
from ocrbeam.output import accounting
from ocrbeam.output.lease import Lease
from ocrbeam.output.paths import join_uri
from ocrbeam.storage import list_files

__all__ = [
    "BatchOutputs",
    "RunFailed",
    "RunOutcome",
    "UsageError",
    "build_pipeline",
    "run",
]


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
    local: bool = False,
) -> BatchOutputs:
    """Add the batch OCR graph to ``pipeline``; write under ``output`` if given.

    With ``skip_done``, pages that ``output`` already holds for this config are
    read back and neither rendered nor OCR'd again.  ``engine_pool``: the
    number of engines of a pool shared by this machine's bundles (local
    runs); None: one engine per worker process.  ``local``: the run executes
    on this machine: a document's pages stay in one stage and its rows are
    committed as they come (``CommitRows``); otherwise Beam's sinks.
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
    results, split_dead, ocr_dead, artifacts, page_parts = ocr_blobs(
        blobs,
        config,
        progress_dir=progress_dir,
        handler=handler,
        spread_pages=not local,
    )
    dead = (read_dead, split_dead, ocr_dead) | "DeadLetters" >> beam.Flatten()
    outputs = BatchOutputs(
        pages=results, dead_letters=dead, engine_pool=handler.engine_pool
    )
    outputs.writes.extend(write_bigquery(results, dead, config.sink.bigquery))
    if output and local:
        # Each stage's rows committed where they are made: a Flatten first
        # would make them wait for the whole run (Beam's local runner runs
        # what follows a Flatten in a later stage).
        ocr_pages, direct_pages = page_parts
        for name, rows, table in (
            ("OcrPages", ocr_pages, "pages"),
            ("DirectPages", direct_pages, "pages"),
            ("ReadErrors", read_dead, "errors"),
            ("SplitErrors", split_dead, "errors"),
            ("OcrErrors", ocr_dead, "errors"),
        ):
            outputs.writes.append(
                rows | f"Commit{name}" >> CommitRows(output, table, config.sink, run_id)
            )
        if config.sink.markdown_files:
            outputs.writes.append(
                results | "WritePageMarkdown" >> WriteMarkdownFiles(output)
            )
    elif output:
        outputs.writes.append(
            results | "WritePages" >> WritePages(output, config.sink, run_id)
        )
        outputs.writes.append(
            dead | "WriteDeadLetters" >> WriteDeadLetters(output, config.sink, run_id)
        )
    if output:
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


def _check_model_dirs(config: PipelineConfig) -> None:
    """ocr.lang / ocr.ocrVersion, and the VL models' names, against the model
    dirs this machine has (the workers check them all as they load the
    models)."""
    from ocrbeam.engines.languages import check_models
    from ocrbeam.engines.vl import check_model_dirs

    try:
        check_models(config.ocr, only_present=True)
        if config.route == "vl":
            check_model_dirs(config.vl, only_present=True)
    except ValueError as exc:
        raise ConfigError(f"invalid configuration: {exc}") from None


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
        UsageError, ConfigError: the user's inputs, output or config are
            wrong, or another run holds the output (``LeaseHeld``).
        RunFailed: the output store failed during the run; what was committed
            stays, and the rerun completes the run.
    """
    argv = list(argv or [])
    register_runner_options(argv)
    options = PipelineOptions(argv)
    ours = options.view_as(OcrbeamOptions)
    if not ours.input:
        raise UsageError("at least one --input is required")
    if not ours.output:
        raise UsageError("--output is required")
    config = load_config(ours.config, ours.overrides)
    _check_model_dirs(config)
    input_uris = _list_inputs(ours.input)
    accounting.check_writable(ours.output)
    run_id = accounting.new_run_id()
    with Lease(ours.output, run_id, ttl_s=ours.lease_s) as lease:
        return _run_holding_the_lease(
            options, ours, config, input_uris, run_id, test_pipeline, lease
        )


#: Settings whose defaults changed: 0.2.0 reads with fp32 (int8 before) and
#: with the layout and table models (route structure; route ocr before);
#: 0.3.0 takes checked text layers with structure (route auto).
_EARLIER_DEFAULTS = (
    ("route=structure",),
    ("route=structure", "ocr.textRecognitionPrecision=int8"),
    ("ocr.textRecognitionPrecision=int8",),
    ("ocr.textRecognitionPrecision=fp32",),
    ("route=ocr",),
    ("route=ocr", "ocr.textRecognitionPrecision=int8"),
    ("structure.auto=false",),
    ("structure.auto=false", "ocr.textRecognitionPrecision=int8"),
)


def _continuation_hint(config: PipelineConfig, existing: set[str]) -> str:
    """How to continue an output written with an earlier default (int8 before
    0.2.0; route ocr, or route auto without structure, before 0.2.0; route
    structure before 0.3.0)."""
    for overrides in _EARLIER_DEFAULTS:
        try:
            other = with_overrides(config, list(overrides))
        except ConfigError:
            continue
        if other != config and other.fingerprint() in existing:
            sets = " ".join(f"--set {item}" for item in overrides)
            written = ", ".join(overrides)
            return f"; it was written with {written}: add {sets} to continue it"
    return ""


def _run_holding_the_lease(
    options, ours, config, input_uris, run_id, test_pipeline, lease
) -> RunOutcome:
    fingerprint = config.fingerprint()
    with _output_store(lease):
        accounting.remove_temporaries(ours.output)
        existing = accounting.existing_config_hashes(ours.output)
    if existing - {fingerprint} and not ours.force:
        raise UsageError(
            f"{ours.output} holds results of another configuration "
            f"({', '.join(sorted(existing - {fingerprint}))}; this one is "
            f"{fingerprint}): rerun with --force to redo everything with this "
            "configuration, or choose another --output"
            + _continuation_hint(config, existing)
        )

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
        local=plan.local,
    )
    with _output_store(lease, during_run=True):
        result = session.run(pipeline, outputs.engine_pool)
    with _output_store(lease):
        accounting.cleanup_after_run(ours.output, run_id, force=ours.force)
        summary = accounting.summarize(ours.output, input_uris, fingerprint, run_id)
        path = accounting.write_summary(ours.output, summary)
    return RunOutcome(result, run_id, summary, path)


@contextlib.contextmanager
def _output_store(lease: Lease, during_run: bool = False):
    """Turn a failure of the output store into one :class:`RunFailed` line.

    A failure while the store does not answer is the store's, however Beam
    wrapped it; any other failure is raised as it is, traceback and all."""
    try:
        yield
    except (UsageError, RunFailed):
        raise
    except Exception as exc:
        if lease.store_reachable():
            raise
        output = lease.url.rsplit("/", 1)[0]
        kept = (
            "what the run finished before is kept: rerun the same command to "
            "complete it"
            if during_run
            else "rerun the same command once it is back"
        )
        raise RunFailed(
            f"the output store failed: {output} does not answer "
            f"({_root_cause(exc)}); {kept}"
        ) from exc


def _root_cause(exc: BaseException) -> str:
    """The innermost exception's first line: what Beam's wrapping hides."""
    seen = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    text = str(seen[-1]).strip().splitlines()
    return (text[0] if text else type(seen[-1]).__name__)[:160]
