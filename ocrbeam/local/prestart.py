"""Start the local engine pool's processes before Beam is imported.

A default local run OCRs its pages in a pool of engine processes (one per
core, or ``--workers``); each spends seconds importing PaddleOCR before it
builds its models, and the renderer process a moment importing pdfium and
Pillow before its first page.  Started first thing, they import while
``ocrbeam run`` imports Beam and builds the graph; the pool and the split
stage then adopt them (:func:`ocrbeam.engines.isolation.prestart`).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def prestart_for(argv: Sequence[str]) -> int:
    """Start the processes an ``ocrbeam run`` with these arguments will adopt;
    returns how many were started.

    Only the options that decide whether there is a pool are read here;
    anything unclear (a runner, a running mode, a config that does not load)
    starts nothing, and the run itself reports the error.
    """
    from ocrbeam.transforms.config import load_config

    from .plan import pool_size

    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    for name in ("--runner", "--direct_running_mode", "--config"):
        parser.add_argument(name)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--set", dest="overrides", action="append")
    parser.add_argument("-h", "--help", action="store_true")
    try:
        known, _rest = parser.parse_known_args(list(argv))
        if known.help:
            return 0
        config = load_config(known.config, known.overrides)
    except (Exception, SystemExit):  # noqa: BLE001 - the run reports it
        return 0
    engines = pool_size(config, known.runner, known.direct_running_mode, known.workers)
    if not engines:
        return 0
    from ocrbeam.engines.isolation import prestart
    from ocrbeam.engines.ppocrv5 import ENGINE_MODULES, ENGINE_PROCESS_NAME
    from ocrbeam.engines.render import RENDERER_MODULES, RENDERER_PROCESS_NAME

    count = 0
    if config.ocr.isolate:
        count = engines
        prestart(ENGINE_PROCESS_NAME, count, ENGINE_MODULES)
    if config.render.isolate:  # the one bundle thread's renderer
        prestart(RENDERER_PROCESS_NAME, 1, RENDERER_MODULES)
        count += 1
    return count


def stop_unadopted() -> int:
    """Stop the prestarted processes the run did not adopt; how many."""
    from ocrbeam.engines.isolation import stop_standing_by

    return stop_standing_by()
