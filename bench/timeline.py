"""Timeline of one ``ocrbeam run``: where the time goes beyond the engines' work.

Renders N pages from the real PDFs in tests/data to PNG, then runs
``ocrbeam run`` on them in this process (the default local run: Beam in the
launcher, a pool of one engine process per core) with stamps, in seconds from
the start: the engine and renderer processes prestarted, Beam imported, the
engines' loads, the first page on an engine, each engine's idle gaps between
pages, the last page, the pool stopped.  Ends with the engines' busy seconds
and the launcher's CPU seconds, then one JSON line.

    python bench/timeline.py --pages 32
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import emit, write_page_folder  # noqa: E402

_T0 = time.monotonic()
_STAMPS: list[tuple[float, str]] = []


def _stamp(what: str) -> None:
    _STAMPS.append((round(time.monotonic() - _T0, 2), what))


class _Spans:
    """Each engine's (start, end) per page, recorded in the launcher."""

    def __init__(self):
        self.by_engine: dict[int, list[tuple[float, float]]] = {}
        self._lock = threading.Lock()
        self._started = False

    def wrap(self, predict):
        def timed(engine, png):
            start = time.monotonic() - _T0
            with self._lock:
                if not self._started:
                    self._started = True
                    _stamp("first page on an engine")
            try:
                return predict(engine, png)
            finally:
                end = time.monotonic() - _T0
                with self._lock:
                    self.by_engine.setdefault(id(engine), []).append((start, end))

        return timed


def _instrument(spans: _Spans) -> None:
    """Stamp the run's milestones (imports Beam: call it where the run would)."""
    import ocrbeam.transforms.handlers  # noqa: F401 - the import being stamped

    from ocrbeam.engines.host import EngineHost
    from ocrbeam.local.pool import EnginePool

    _stamp("Beam and ocrbeam's stages imported")
    start, close = EnginePool._start, EnginePool.close

    def timed_start(pool, factory):
        _stamp("engine load begins")
        start(pool, factory)
        _stamp("engine loaded")

    def timed_close(pool):
        _stamp("pool stopping")
        close(pool)
        _stamp("pool stopped")

    EnginePool._start = timed_start
    EnginePool.close = timed_close
    EngineHost.predict = spans.wrap(EngineHost.predict)


def main() -> None:
    global _T0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=32)
    parser.add_argument("--dpi", type=int, default=150)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "pages"
        write_page_folder(folder, args.dpi, args.pages)
        argv = ["--no_progress", "--input", str(folder), "--output", f"{tmp}/out"]
        for item in args.overrides:
            argv += ["--set", item]

        import ocrbeam.cli as cli
        import ocrbeam.local.prestart as prestarting

        spans = _Spans()
        prestart = prestarting.prestart_for

        def stamped_prestart(run_argv):
            started = prestart(run_argv)
            _stamp(f"{started} engine/renderer process(es) prestarted")
            _instrument(spans)
            return started

        prestarting.prestart_for = stamped_prestart
        _T0 = time.monotonic()
        code = cli.run_command(argv)
        _stamp("run over")
    if code != 0:
        raise SystemExit(f"ocrbeam run exited {code}")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    engines = []
    for pages in spans.by_engine.values():
        pages.sort()
        gaps = [round(b[0] - a[1], 2) for a, b in zip(pages, pages[1:], strict=False)]
        engines.append(
            {
                "pages": len(pages),
                "first_page_s": round(pages[0][0], 2),
                "last_page_end_s": round(pages[-1][1], 2),
                "busy_s": round(sum(end - start for start, end in pages), 1),
                "idle_gaps_over_50ms": [g for g in gaps if g > 0.05],
            }
        )
    for at, what in _STAMPS:
        print(f"{at:8.2f} s  {what}")
    for i, engine in enumerate(engines):
        print(
            f"engine {i}: {engine['pages']} pages, first at "
            f"{engine['first_page_s']} s, last done at "
            f"{engine['last_page_end_s']} s, busy {engine['busy_s']} s, "
            f"idle gaps over 50 ms: {engine['idle_gaps_over_50ms'] or 'none'}"
        )
    cpu = usage.ru_utime + usage.ru_stime
    print(f"launcher CPU (Beam, rendering calls, writing): {cpu:.1f} s")
    emit(
        {
            "bench": "timeline",
            "pages": args.pages,
            "dpi": args.dpi,
            "stamps": [{"s": at, "what": what} for at, what in _STAMPS],
            "engines": engines,
            "launcher_cpu_s": round(cpu, 1),
        }
    )


if __name__ == "__main__":
    main()
