"""The ``ocrbeam`` command.

``ocrbeam run --input DIR --output OUT`` runs the batch pipeline; everything
not declared by ocrbeam is passed to Apache Beam as a pipeline option.
``ocrbeam stream`` runs the streaming pipeline; ``ocrbeam config [KEY ...]``
says what each configuration key means.  The configuration part of the help is
generated from the config model (:mod:`ocrbeam.reference`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Optional

from ocrbeam import __version__

RUN_EPILOG = """\
Apache Beam options (passed through; the common ones):
  --runner NAME               default: FnApiRunner in this process, one engine
                              process per core (no Prism download);
                              DataflowRunner, FlinkRunner, PortableRunner,
                              DaskRunner ...
  --direct_num_workers N      local Beam worker processes (with
                              --direct_running_mode multi_processing)
  --direct_running_mode MODE  in_memory | multi_threading | multi_processing
  --project, --region, --temp_location, --staging_location  (Dataflow)
  --setup_file ./setup.py     stage ocrbeam to remote workers
  --sdk_container_image IMG   custom worker image (see Dockerfile)
  --machine_type, --max_num_workers, --dataflow_service_options=worker_accelerator=...

outputs:
  OUT/pages/*.parquet    one row per page:
{page_columns}
  OUT/errors/*.parquet   one row per failed document or page:
{error_columns}
  OUT/documents/*.parquet  one row per document, pages in order (sink.documents)
  OUT/documents/markdown/NAME-DOCID.md   the whole document as markdown
  OUT/jsonl/{pages,errors}/*.jsonl   the same rows as JSON lines (sink.jsonl)
  OUT/markdown/NAME-DOCID/page-00000.md   one file per page (sink.markdownFiles)
  OUT/images/NAME-DOCID/p00000/...   figures cut out by routes structure and vl
                         (linked from the markdown)
  OUT/visualize/NAME-DOCID/page-00000.jpg   pages with boxes drawn (visualize)

reruns:
  Rerunning into the same --output skips pages already done with the same
  config, retries failures and writes no duplicates; --force redoes all.
  OUT/_SUMMARY.json accounts for every input document and page.

exit status: 0 done (failures are in errors/), 1 the run failed (the output
store went away: rerun to complete it) or the accounting found a document or
page in neither pages/ nor errors/, 2 usage or configuration error, or another
run holds the output's lease.
"""


def _run_epilog() -> str:
    """RUN_EPILOG with the output columns of the record types themselves."""
    import textwrap

    from ocrbeam.transforms.records import DeadLetter, PageResult

    def columns(record) -> str:
        indent = " " * 25
        text = ", ".join(record._fields)
        return textwrap.fill(text, 79, initial_indent=indent, subsequent_indent=indent)

    return RUN_EPILOG.replace("{page_columns}", columns(PageResult)).replace(
        "{error_columns}", columns(DeadLetter)
    )


def _run_parser() -> argparse.ArgumentParser:
    from ocrbeam.reference import config_keys
    from ocrbeam.transforms.options import OcrbeamOptions

    parser = argparse.ArgumentParser(
        prog="ocrbeam run",
        description="OCR documents (PDFs, images) with PP-OCRv5 on Apache Beam.",
        epilog=config_keys() + "\n  Ready configs: configs/cpu.yaml (default), "
        "configs/gpu-ppocrv5.yaml,\n  configs/vl-vllm.yaml, configs/vl-remote.yaml."
        "\n\n" + _run_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    OcrbeamOptions._add_argparse_args(parser)
    parser.add_argument(
        "--log_level",
        default="WARNING",
        help="Python log level for ocrbeam and Beam (default WARNING).",
    )
    return parser


STREAM_EPILOG = """\
sources:
  --subscription projects/P/subscriptions/S   Cloud Storage notifications
      (gcloud storage buckets notifications create gs://BUCKET --topic=T
       --event-types=OBJECT_FINALIZE --payload-format=json); each
      OBJECT_FINALIZE reads the object at the notified generation, other event
      types are counted (ocrbeam.notify/ignored_events) and dropped, and a
      message that is not a notification becomes an errors/ row.
  --watch GLOB   poll a prefix (local, gs://, s3://) every --poll_interval_s.

outputs (per window of --window_s seconds; files appear when a window closes):
  OUT/pages/window-START-END-pane-PPP-shard-SSSSS-of-NNNNN.parquet
  OUT/errors/window-...parquet
  written under a hidden temporary name and renamed when complete, so a
  drained or cancelled job leaves no half-written file where readers look.
  --set sink.bigquery.pagesTable=P:D.T   also BigQuery (STREAMING_INSERTS or
      STORAGE_WRITE_API; FILE_LOADS loads once per window).

Duplicate deliveries of one (object, generation) within --dedupe_ttl_s are
processed once.  Locally the job runs until Ctrl-C (BundleBasedDirectRunner);
on Dataflow add --runner DataflowRunner ... and drain it to stop cleanly.
"""


def _stream_parser() -> argparse.ArgumentParser:
    from ocrbeam.pipelines.stream import StreamOptions
    from ocrbeam.transforms.options import OcrbeamOptions

    parser = argparse.ArgumentParser(
        prog="ocrbeam stream",
        description="OCR documents as they land (Pub/Sub notifications or a "
        "watched prefix), streaming on Apache Beam.",
        epilog=STREAM_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    StreamOptions._add_argparse_args(parser)
    OcrbeamOptions._add_argparse_args(parser)
    for action in parser._actions:  # batch-only flags: not shown for stream
        if action.dest in ("input", "force", "workers", "no_progress"):
            action.help = argparse.SUPPRESS
    parser.add_argument(
        "--log_level",
        default="WARNING",
        help="Python log level for ocrbeam and Beam (default WARNING).",
    )
    return parser


def stream_command(argv: Sequence[str]) -> int:
    """``ocrbeam stream``: runs until the job is stopped; returns the exit status."""
    from ocrbeam.errors import UsageError
    from ocrbeam.pipelines.stream import run
    from ocrbeam.transforms.config import ConfigError

    known, _beam_args = _stream_parser().parse_known_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(known.log_level).upper(), logging.WARNING),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        run(_strip_option(argv, "--log_level"))
    except (UsageError, ConfigError) as exc:
        print(f"ocrbeam: error: {exc}", file=sys.stderr)
        return 2
    return 0


def _print_summary(outcome) -> None:
    from apache_beam.metrics.metric import MetricsFilter

    summary = outcome.summary
    print(f"ocrbeam run {outcome.run_id} summary:", file=sys.stderr)
    print(summary.table(), file=sys.stderr)
    try:
        metrics = outcome.result.metrics().query(
            MetricsFilter().with_namespace("ocrbeam.ppocrv5").with_name("model_loads")
        )
        loads = sum(c.committed or c.attempted or 0 for c in metrics["counters"])
        skipped = outcome.result.metrics().query(
            MetricsFilter().with_name("pages_already_done")
        )
        done_before = sum(c.committed or c.attempted or 0 for c in skipped["counters"])
        print(
            f"  (this run: {loads} model load(s); {done_before} page(s) "
            "already done by earlier runs were skipped)",
            file=sys.stderr,
        )
    except Exception:  # noqa: BLE001 - some runners cannot report metrics
        pass
    print(f"  accounting written to {outcome.summary_path}", file=sys.stderr)


#: Libraries that log, with tracebacks, failures ocrbeam reports itself in
#: one line (a storage client out of retries, the DoFn error the run's failure
#: carries, local workers' forwarded lines such as "No
#: semi_persistent_directory"): shown from --log_level INFO on.
_NOISY_LOGGERS = (
    "apache_beam.runners.common",
    "apache_beam.runners.portability.local_job_service",
    "apache_beam.runners.worker.sdk_worker",
    "gcsfs",
    "s3fs",
    "aiobotocore",
    "botocore",
    "urllib3",
)


def _quiet_libraries() -> None:
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _strip_option(argv: Sequence[str], name: str) -> list[str]:
    """Remove ``name VALUE`` / ``name=VALUE`` (ocrbeam-only flags) from argv."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == name:
            skip = True
        elif not arg.startswith(name + "="):
            out.append(arg)
    return out


def run_command(argv: Sequence[str]) -> int:
    """``ocrbeam run``: returns the process exit status."""
    from ocrbeam.local.prestart import prestart_for, stop_unadopted

    # Before Beam is imported: the engines import PaddleOCR meanwhile.
    prestart_for(argv)
    try:
        return _run(argv)
    finally:
        stop_unadopted()


def config_command(argv: Sequence[str]) -> int:
    """``ocrbeam config [KEY ...]``: what each configuration key means."""
    from ocrbeam.reference import config_help

    parser = argparse.ArgumentParser(
        prog="ocrbeam config",
        description="Print each configuration key with its type, default and "
        "meaning (every key, or those starting with a given KEY).",
        epilog="e.g. ocrbeam config ocr.textDet render.dpi",
    )
    parser.add_argument("keys", nargs="*", metavar="KEY")
    args = parser.parse_args(list(argv))
    text = config_help(tuple(args.keys))
    if not text:
        print(
            f"ocrbeam: error: no configuration key starts with {args.keys}",
            file=sys.stderr,
        )
        return 2
    print(text)
    return 0


def _run(argv: Sequence[str]) -> int:
    from ocrbeam.errors import RunFailed, UsageError
    from ocrbeam.pipelines.batch import run
    from ocrbeam.transforms.config import ConfigError

    parser = _run_parser()
    known, _beam_args = parser.parse_known_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(known.log_level).upper(), logging.WARNING),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if logging.getLogger().level > logging.INFO:
        _quiet_libraries()
    beam_argv = _strip_option(argv, "--log_level")
    try:
        outcome = run(beam_argv)
    except (UsageError, ConfigError) as exc:
        print(f"ocrbeam: error: {exc}", file=sys.stderr)
        return 2
    except RunFailed as exc:
        print(f"ocrbeam: error: {exc}", file=sys.stderr)
        return 1
    _print_summary(outcome)
    if not outcome.summary.ok:
        print(
            "ocrbeam: error: accounting failed: "
            f"{len(outcome.summary.unaccounted)} document(s) and "
            f"{len(outcome.summary.pages_unaccounted)} page(s) are in neither "
            f"pages/ nor errors/, {outcome.summary.duplicate_pages} page(s) "
            f"twice; see {outcome.summary_path}",
            file=sys.stderr,
        )
        return 1
    print(f"ocrbeam: output written under {known.output}", file=sys.stderr)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``ocrbeam`` console command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    top = argparse.ArgumentParser(
        prog="ocrbeam",
        description="OCR and document parsing for data lakes on Apache Beam.",
        epilog="Commands:\n  run     batch OCR of documents in storage "
        "(ocrbeam run --help)\n  stream  OCR documents as they land "
        "(ocrbeam stream --help)\n  config  what each configuration key means "
        "(ocrbeam config --help)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("--version", action="version", version=f"ocrbeam {__version__}")
    top.add_argument("command", choices=["run", "stream", "config"], help="what to do")
    if not argv or argv[0] in ("-h", "--help", "--version"):
        top.parse_args(argv)
        return 0
    command, rest = argv[0], argv[1:]
    if command == "run":
        return run_command(rest)
    if command == "stream":
        return stream_command(rest)
    if command == "config":
        return config_command(rest)
    top.parse_args(argv)  # prints the usage error, exits 2
    return 2


if __name__ == "__main__":
    sys.exit(main())
