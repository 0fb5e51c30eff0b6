"""Live progress of local runs: pages found, pages done, rate, time left.

Beam's metrics reach the launcher only when a local run ends, and local
multi-process runs execute in separate SDK worker processes.  So each worker
process keeps its own counts and, at most once a second and at the end of each
bundle, atomically replaces a small JSON file ``<dir>/<pid>-<stage>.json``.  The
launcher's :class:`ProgressMonitor` thread sums the files and prints one line
every few seconds.  On Dataflow/Flink the runner's UI shows the same counters
(Beam metrics under ``ocrbeam.*``) and no directory is configured.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Optional, TextIO


class ProgressReporter:
    """Per-process counters flushed to a file; a no-op when ``directory`` is None.

    Picklable (only the directory and stage name travel); counts live in the
    worker process and are shared by every DoFn instance there.
    """

    # Keyed by (directory, stage): one run's counts never leak into another's.
    _state: dict[tuple, dict[str, int]] = {}
    _lock = threading.Lock()
    _last_flush: dict[tuple, float] = {}

    def __init__(self, directory: Optional[str], stage: str):
        self.directory = directory
        self.stage = stage

    def add(self, **counts: int) -> None:
        if not self.directory:
            return
        key = (self.directory, self.stage)
        with self._lock:
            state = self._state.setdefault(key, {})
            for name, value in counts.items():
                state[name] = state.get(name, 0) + value
            due = time.monotonic() - self._last_flush.get(key, 0.0) > 1.0
        if due:
            self.flush()

    def flush(self) -> None:
        if not self.directory:
            return
        key = (self.directory, self.stage)
        with self._lock:
            payload = json.dumps(self._state.get(key, {}))
            self._last_flush[key] = time.monotonic()
        path = Path(self.directory) / f"{os.getpid()}-{self.stage}.json"
        tmp = path.with_suffix(".tmp")
        try:
            tmp.write_text(payload)
            os.replace(tmp, path)
        except OSError:
            pass  # progress is best-effort; the run's outputs are the record


def read_progress(directory: str) -> dict[str, int]:
    """Sum every worker's counts: ``{"pages_found": n, "pages_done": m, ...}``."""
    totals: dict[str, int] = {}
    for path in Path(directory).glob("*.json"):
        try:
            counts = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        for key, value in counts.items():
            totals[key] = totals.get(key, 0) + int(value)
    return totals


def _fmt_duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"


def format_progress(
    totals: dict[str, int], elapsed_s: float, rate: Optional[float]
) -> str:
    """One human line.

    e.g. ``pages 34/120 done (1 failed) | 0.52 pages/s | ~2m45s left``.
    """
    found = totals.get("pages_found", 0)
    done = totals.get("pages_done", 0)
    failed = totals.get("pages_failed", 0)
    docs = totals.get("documents", 0)
    parts = [f"documents {docs}", f"pages {done + failed}/{found} done"]
    if failed:
        parts[-1] += f" ({failed} failed)"
    if rate:
        parts.append(f"{rate:.2f} pages/s")
        left = max(0, found - done - failed)
        if left:
            parts.append(f"~{_fmt_duration(left / rate)} left")
    parts.append(f"elapsed {_fmt_duration(elapsed_s)}")
    return "progress: " + " | ".join(parts)


class ProgressMonitor:
    """Launcher-side thread printing aggregated progress every ``interval`` s."""

    def __init__(
        self, directory: str, interval: float = 5.0, stream: TextIO = sys.stderr
    ):
        self.directory = directory
        self.interval = interval
        self.stream = stream
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="ocrbeam-progress", daemon=True
        )
        self._start = time.monotonic()
        self._first_done_at: Optional[tuple[float, int]] = None
        self._last_line = ""

    def start(self) -> ProgressMonitor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._print(final=True)

    def _print(self, final: bool = False) -> None:
        totals = read_progress(self.directory)
        now = time.monotonic()
        processed = totals.get("pages_done", 0) + totals.get("pages_failed", 0)
        rate = None
        if processed and self._first_done_at is None:
            self._first_done_at = (now, processed)
        if self._first_done_at is not None:
            t0, n0 = self._first_done_at
            # Rate measured from the first finished page on, so model loading and
            # rendering before it do not skew the estimate.
            if processed > n0 and now > t0:
                rate = (processed - n0) / (now - t0)
        line = format_progress(totals, now - self._start, rate)
        if line != self._last_line or final:
            print(line, file=self.stream, flush=True)
            self._last_line = line

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._print()
