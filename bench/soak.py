"""Soak: a few hundred pages through ``ocrbeam run`` in ONE worker process;
resident memory of the worker's process tree (SDK worker + engine + renderer
children) sampled from the start to the end of the run.

    python bench/soak.py --pages 300

Prints RSS at the first finished page and at the end, the peak, and the growth
per 100 pages, then one JSON line.  Memory is bounded when the end is close to
the start (native allocators keep some slack; growth without bound would show
as a steady climb across the samples).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import emit  # noqa: E402


def _tree_rss_mb(pid: int) -> float:
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


def make_documents(folder: Path, pages: int, per_doc: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from docs import SENTENCES, pdf_of_pages

    folder.mkdir(parents=True, exist_ok=True)
    made = 0
    doc = 0
    while made < pages:
        n = min(per_doc, pages - made)
        content = [
            [SENTENCES[(doc + p + i) % len(SENTENCES)] for i in range(6)]
            + [f"Document {doc} page {p}"]
            for p in range(n)
        ]
        (folder / f"doc{doc:04d}.pdf").write_bytes(pdf_of_pages(content, size=28))
        made += n
        doc += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--per-doc", type=int, default=10)
    parser.add_argument("--interval", type=float, default=2.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "docs"
        make_documents(folder, args.pages, args.per_doc)
        cmd = [
            sys.executable,
            "-m",
            "ocrbeam",
            "run",
            "--input",
            str(folder),
            "--output",
            str(Path(tmp) / "out"),
            "--workers",
            "1",
            "--no_progress",
            "--set",
            "render.dpi=100",
        ]
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        samples: list[tuple[float, float]] = []

        def sample():
            while proc.poll() is None:
                samples.append((time.perf_counter() - start, _tree_rss_mb(proc.pid)))
                time.sleep(args.interval)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        _, err = proc.communicate()
        thread.join()
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"ocrbeam run failed:\n{err[-4000:]}")
        import pyarrow.dataset as ds

        done = ds.dataset(
            str(Path(tmp) / "out" / "pages"), format="parquet"
        ).count_rows()
    # "Start": once the model is loaded and pages flow (RSS stops its initial climb).
    loaded = [s for s in samples if s[0] > elapsed * 0.1] or samples
    first, last = loaded[0], loaded[-1]
    peak = max(rss for _, rss in samples)
    third = max(1, len(loaded) // 3)
    early = sum(r for _, r in loaded[:third]) / third
    late = sum(r for _, r in loaded[-third:]) / third
    growth_per_100 = (late - early) / max(1, done * (2 / 3)) * 100
    print(
        f"pages: {done} in {elapsed:.0f} s ({done / elapsed:.2f} pages/s), one worker"
    )
    print(
        f"RSS of the worker tree: start {first[1]:.0f} MB, end {last[1]:.0f} MB, "
        f"peak {peak:.0f} MB; first-third mean {early:.0f} MB, "
        f"last-third mean {late:.0f} MB ({growth_per_100:+.1f} MB / 100 pages)"
    )
    emit(
        {
            "bench": "soak",
            "pages": done,
            "seconds": round(elapsed, 1),
            "rss_start_mb": round(first[1]),
            "rss_end_mb": round(last[1]),
            "rss_peak_mb": round(peak),
            "rss_early_mean_mb": round(early),
            "rss_late_mean_mb": round(late),
            "growth_mb_per_100_pages": round(growth_per_100, 2),
            "samples": [
                (round(t), round(r)) for t, r in samples[:: max(1, len(samples) // 40)]
            ],
        }
    )


if __name__ == "__main__":
    main()
