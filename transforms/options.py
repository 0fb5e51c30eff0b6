"""Pipeline options of ocrbeam: the one place its command-line flags are declared.

``ocrbeam run --help`` and Beam's own option parsing both read these
definitions, so the help cannot drift from what is parsed.
"""

from __future__ import annotations

from apache_beam.options.pipeline_options import PipelineOptions


class OcrbeamOptions(PipelineOptions):
    """``--input``, ``--output``, ``--config``, ``--set`` and run switches."""

    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument(
            "--input",
            action="append",
            default=None,
            metavar="GLOB_OR_URL",
            help="Documents to process: a file, a directory (read recursively, "
            "hidden files skipped) or a glob; local paths or any fsspec URL "
            "(gs://, s3://, ...). Repeat for several inputs.",
        )
        parser.add_argument(
            "--output",
            default=None,
            metavar="DIR_OR_URL",
            help="Output prefix: pages/ and errors/ (Parquet) are written under it.",
        )
        parser.add_argument(
            "--config",
            default=None,
            metavar="FILE",
            help="YAML config (see configs/). Default: the built-in CPU defaults.",
        )
        parser.add_argument(
            "--set",
            dest="overrides",
            action="append",
            default=None,
            metavar="KEY=VALUE",
            help="Override one config value, e.g. --set ocr.textDetThresh=0.4 "
            "--set render.dpi=200. Keys: camelCase or snake_case. Repeatable.",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            default=False,
            help="Redo every document, even those an earlier run into the same "
            "--output completed (the earlier rows are replaced). Without it, "
            "reruns skip finished pages and retry failures.",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            metavar="N",
            help="Local runs: engine processes in the machine's pool, or "
            "Beam worker processes where pages are not pooled (VL, remote "
            "engine, ocr.sharedEngines=false, --direct_running_mode "
            "multi_processing). Default: one per CPU core.",
        )
        parser.add_argument(
            "--lease_s",
            type=float,
            default=60.0,
            metavar="SECONDS",
            help="One run at a time per --output: a run holds the output's "
            "lease (OUT/_LEASE.json) and renews it every SECONDS/4; a lease "
            "not renewed for SECONDS is dead and a new run takes it over "
            "(at once when its holder was on this host and is gone). "
            "Default 60.",
        )
        parser.add_argument(
            "--no_progress",
            "--no-progress",
            dest="no_progress",
            action="store_true",
            default=False,
            help="Local runs: do not print progress lines.",
        )
