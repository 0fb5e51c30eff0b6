"""Streaming pipeline: OCR documents as they land.

Sources (one of):

* ``--subscription projects/P/subscriptions/S`` or ``--topic projects/P/topics/T``:
  Cloud Storage OBJECT_FINALIZE notifications (``ParseNotifications``); the
  read is pinned to the notified object generation;
* ``--watch GLOB``: poll a storage prefix for new files (Beam's
  ``fileio.MatchContinuously``), for landing zones without notifications.

Graph::

    source -> DedupeRefs (bounded state) -> WindowInto(FixedWindows)
        -> ReadBlobs -> SplitPages -> OcrPages
        -> WriteWindowedTable(pages/)  [+ BigQuery]
    every stage's dead letters -> WindowInto -> WriteWindowedTable(errors/)

ReadBlobs, SplitPages and OcrPages are the batch pipeline's own transforms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.transforms.window import FixedWindows
from ocrbeam.pipelines.stages import ocr_blobs, write_bigquery
from ocrbeam.transforms.config import PipelineConfig, load_config
from ocrbeam.transforms.notifications import DedupeRefs, ParseNotifications
from ocrbeam.transforms.options import OcrbeamOptions
from ocrbeam.transforms.read import ReadBlobs
from ocrbeam.transforms.records import DeadLetter, DocumentRef, PageResult, typed
from ocrbeam.transforms.sinks import WriteArtifacts, WriteWindowedTable
from ocrbeam.transforms.watch import watch_files

from ocrbeam.errors import UsageError

# Beam's streaming-capable local runner (DirectRunner would pick Prism, which
# it downloads first).
LOCAL_STREAMING_RUNNER = "BundleBasedDirectRunner"


class StreamOptions(PipelineOptions):
    """``ocrbeam stream`` flags (``--output``, ``--config``, ``--set`` are shared
    with ``ocrbeam run``)."""

    @classmethod
    def _add_argparse_args(cls, parser):
        source = parser.add_argument_group("ocrbeam stream source (one of)")
        source.add_argument(
            "--subscription",
            default=None,
            metavar="projects/P/subscriptions/S",
            help="Pub/Sub subscription receiving Cloud Storage notifications "
            "(gcloud storage buckets notifications create --topic=T gs://B).",
        )
        source.add_argument(
            "--topic",
            default=None,
            metavar="projects/P/topics/T",
            help="Pub/Sub topic of Cloud Storage notifications (Beam creates a "
            "temporary subscription; prefer --subscription in production).",
        )
        source.add_argument(
            "--watch",
            default=None,
            metavar="GLOB",
            help="Poll this glob (local, gs://, s3://) for new files instead.",
        )
        parser.add_argument(
            "--poll_interval_s",
            type=float,
            default=10.0,
            help="--watch: seconds between listings (default 10).",
        )
        parser.add_argument(
            "--window_s",
            type=float,
            default=60.0,
            help="Output window: one set of Parquet files per window (default 60).",
        )
        parser.add_argument(
            "--dedupe_ttl_s",
            type=float,
            default=24 * 3600.0,
            help="How long a seen (object, generation) is remembered to drop "
            "redeliveries (default 24 h; state is cleared after it).",
        )
        parser.add_argument(
            "--shards",
            type=int,
            default=1,
            help="Parquet files per window and table (default 1).",
        )


@dataclass
class StreamOutputs:
    pages: beam.PCollection
    dead_letters: beam.PCollection
    writes: list


def _file_to_ref(metadata) -> DocumentRef:
    return DocumentRef(
        source_uri=metadata.path,
        size=int(metadata.size_in_bytes),
        generation=None,
    )


def _with_nothing_done(ref: DocumentRef) -> tuple:
    return ref, []


def build_stream_pipeline(
    pipeline: beam.Pipeline,
    output: str,
    config: PipelineConfig,
    *,
    messages: Optional[beam.PCollection] = None,
    subscription: Optional[str] = None,
    topic: Optional[str] = None,
    watch: Optional[str] = None,
    poll_interval_s: float = 10.0,
    window_s: float = 60.0,
    dedupe_ttl_s: float = 24 * 3600.0,
    shards: int = 1,
    cpu_threads: Optional[int] = None,
    local_runner: bool = False,
) -> StreamOutputs:
    """Add the streaming graph to ``pipeline``.

    ``messages`` (a PCollection of ``PubsubMessage``) replaces the Pub/Sub
    read, e.g. a ``TestStream`` in tests.  ``local_runner`` picks the
    ``--watch`` implementation the local DirectRunner can run (see
    ``transforms/watch.py``).
    """
    fingerprint = config.fingerprint()
    dead_parts = []
    if watch:
        refs = (
            pipeline
            | "Watch" >> watch_files(watch, poll_interval_s, local=local_runner)
            | "ToRef" >> beam.Map(_file_to_ref).with_output_types(DocumentRef)
        )
    else:
        if messages is None:
            messages = pipeline | "ReadPubSub" >> beam.io.ReadFromPubSub(
                subscription=subscription, topic=topic, with_attributes=True
            )
        refs, notify_dead = messages | "ParseNotifications" >> ParseNotifications(
            fingerprint
        )
        dead_parts.append(notify_dead)
    # Deduplicate in the global window (state per key, whatever the window),
    # then window: a document's pages and dead letters land in the window of
    # the event that announced it.  Windowing before OCR also keeps
    # RunInference's batching per window, so results keep their window.
    refs = typed(
        refs
        | "Dedupe" >> DedupeRefs(dedupe_ttl_s)
        | "Window" >> beam.WindowInto(FixedWindows(window_s)),
        DocumentRef,
    )
    tasks = refs | "NothingDone" >> beam.Map(_with_nothing_done)
    blobs, read_dead = tasks | "ReadBlobs" >> ReadBlobs(
        config.source, fingerprint, config.fail_fast
    )
    results, split_dead, ocr_dead, artifacts, _parts = ocr_blobs(
        blobs, config, cpu_threads=cpu_threads
    )
    dead = typed(
        (*dead_parts, read_dead, split_dead, ocr_dead)
        | "DeadLetters" >> beam.Flatten(),
        DeadLetter,
    )
    # Malformed notifications never reach the Window step: window them here.
    windowed_dead = typed(
        dead | "WindowDead" >> beam.WindowInto(FixedWindows(window_s)), DeadLetter
    )
    writes = [
        results
        | "WritePages" >> WriteWindowedTable(output, "pages", PageResult, shards),
        windowed_dead
        | "WriteDeadLetters"
        >> WriteWindowedTable(output, "errors", DeadLetter, shards),
        artifacts | "WritePageFiles" >> WriteArtifacts(output),
    ]
    # FILE_LOADS in streaming: one load job per window.
    frequency = window_s if config.sink.bigquery.method == "FILE_LOADS" else None
    writes += write_bigquery(results, windowed_dead, config.sink.bigquery, frequency)
    return StreamOutputs(pages=results, dead_letters=dead, writes=writes)


def run(argv: Optional[Sequence[str]] = None, *, block: bool = True) -> Any:
    """Parse flags and start the streaming job; returns Beam's PipelineResult.

    With ``block`` it waits until the job ends (drain or cancel it from the
    runner; Ctrl-C on a local run cancels it).
    """
    options = PipelineOptions(list(argv or []))
    ours = options.view_as(OcrbeamOptions)
    stream = options.view_as(StreamOptions)
    sources = [s for s in (stream.subscription, stream.topic, stream.watch) if s]
    if len(sources) != 1:
        raise UsageError("give exactly one of --subscription, --topic, --watch")
    if not ours.output:
        raise UsageError("--output is required")
    config = load_config(ours.config, ours.overrides)
    standard = options.view_as(StandardOptions)
    standard.streaming = True
    if standard.runner in (None, "DirectRunner"):
        standard.runner = LOCAL_STREAMING_RUNNER
    local = standard.runner in (LOCAL_STREAMING_RUNNER, "SwitchingDirectRunner")
    pipeline = beam.Pipeline(options=options)
    build_stream_pipeline(
        pipeline,
        ours.output,
        config,
        subscription=stream.subscription,
        topic=stream.topic,
        watch=stream.watch,
        poll_interval_s=stream.poll_interval_s,
        window_s=stream.window_s,
        dedupe_ttl_s=stream.dedupe_ttl_s,
        shards=stream.shards,
        local_runner=local,
    )
    result = pipeline.run()
    if block:
        try:
            result.wait_until_finish()
        except KeyboardInterrupt:
            result.cancel()
    return result
