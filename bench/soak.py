"""Soak: a few hundred pages through ONE worker's processes (its renderer
process, driven as the split stage drives it, and the PP-OCRv5 handler with
its engine process), with the resident memory of the three processes sampled
after every batch.

    python bench/soak.py --pages 300

Prints RSS after the first 20 pages (warm) and at the end, per process, the
peak, and the growth per 100 pages, then one JSON line.  Memory is bounded when
the end is close to the start; a leak shows as a steady climb in the samples.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import emit  # noqa: E402


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


def _rss_mb(pids) -> dict[str, float]:
    import psutil

    out = {}
    for name, pid in pids.items():
        try:
            out[name] = psutil.Process(pid).memory_info().rss / 2**20
        except (psutil.NoSuchProcess, TypeError):
            out[name] = 0.0
    return out


def main() -> None:
    """One worker's processes: the renderer and the engine, page by page, as
    the split stage and the OCR handler drive them."""
    import functools
    import os

    from ocrbeam.transforms.config import load_config
    from ocrbeam.transforms.handlers import PPOCRv5ModelHandler
    from ocrbeam.transforms.records import PageImage

    from ocrbeam.engines.isolation import IsolatedWorker
    from ocrbeam.engines.render import RENDERER_PROCESS_NAME, PageRenderer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--per-doc", type=int, default=10)
    parser.add_argument("--batch", type=int, default=4)
    args = parser.parse_args()
    config = load_config(None, ["render.dpi=100"])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "docs"
        make_documents(folder, args.pages, args.per_doc)
        renderer = IsolatedWorker(
            functools.partial(PageRenderer, config.render),
            timeout_s=config.render.page_timeout_s,
            name=RENDERER_PROCESS_NAME,
        )
        handler = PPOCRv5ModelHandler(config.ocr, "soak")
        engine = handler.load_model()
        samples = []
        done = 0
        start = time.perf_counter()
        batch: list = []

        def flush():
            nonlocal done
            outcomes = handler.run_inference(batch, engine)
            done += sum(1 for o in outcomes if hasattr(o, "text"))
            batch.clear()
            pids = {
                "worker": os.getpid(),
                "engine": engine.pid,
                "renderer": renderer.pid,
            }
            samples.append((done, _rss_mb(pids)))

        for path in sorted(folder.glob("*.pdf")):
            data = path.read_bytes()
            count = renderer.call("open", data, "pdf")
            for index in range(count):
                png, width, height, _blank = renderer.call("render", index)
                page = PageImage("d", str(path), index, count, width, height, png)
                batch.append(page)
                if len(batch) >= args.batch:
                    flush()
            renderer.call("close_document")
        if batch:
            flush()
        elapsed = time.perf_counter() - start
        renderer.close()
        engine.close()
    total = [(n, sum(r.values())) for n, r in samples]
    warm = next((i for i, (n, _) in enumerate(total) if n >= 20), 0)
    first, last = samples[warm], samples[-1]
    peak = max(t for _, t in total)
    growth = (
        (total[-1][1] - total[warm][1]) / max(1, total[-1][0] - total[warm][0]) * 100
    )
    fmt = lambda r: ", ".join(f"{k} {v:.0f}" for k, v in r.items())  # noqa: E731
    print(
        f"pages: {done} in {elapsed:.0f} s ({done / elapsed:.2f} pages/s), one worker"
    )
    print(f"RSS at page {first[0]}: {sum(first[1].values()):.0f} MB ({fmt(first[1])})")
    print(f"RSS at page {last[0]}: {sum(last[1].values()):.0f} MB ({fmt(last[1])})")
    print(f"peak {peak:.0f} MB; growth {growth:+.2f} MB per 100 pages")
    emit(
        {
            "bench": "soak",
            "pages": done,
            "seconds": round(elapsed, 1),
            "rss_start_mb": round(sum(first[1].values())),
            "rss_end_mb": round(sum(last[1].values())),
            "rss_start_by_process_mb": {k: round(v) for k, v in first[1].items()},
            "rss_end_by_process_mb": {k: round(v) for k, v in last[1].items()},
            "rss_peak_mb": round(peak),
            "growth_mb_per_100_pages": round(growth, 2),
            "samples": [(n, round(t)) for n, t in total[:: max(1, len(total) // 30)]],
        }
    )


if __name__ == "__main__":
    main()
