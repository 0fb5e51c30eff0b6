"""What ``route: structure`` costs over ``route: ocr``, side by side.

K interleaved pairs of ``ocrbeam run`` (route ocr, then route structure) on
two page sets:

* the bench pages: the 32 rendered pages of ``engine_vs_pipeline.py`` (the
  public PDFs in tests/data, 150 dpi);
* table-heavy pages: the 6 dense-table pages of the scanned-looking
  evaluation set (``scanned_pages.py``), each three times.

For each run: wall clock pages/s, and the mean engine time per page from the
rows' ``elapsed_ms`` (OCR, plus layout and tables on route structure, without
the run's fixed start and end). The cost is the median ratio structure/ocr.

    python bench/structure_cost.py --pairs 2
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import cores, emit, write_page_folder  # noqa: E402
from bench.engine_vs_pipeline import pipeline  # noqa: E402


def _table_folder(folder: Path, copies: int) -> int:
    from bench.scanned_pages import evaluation_pages

    folder.mkdir(parents=True)
    count = 0
    for page in evaluation_pages():
        if page.kind != "table":
            continue
        for copy in range(copies):
            (folder / f"{page.name}-{copy}.jpg").write_bytes(page.jpeg)
            count += 1
    return count


def _engine_ms(out: Path) -> float:
    import pyarrow.dataset as ds

    table = ds.dataset(str(out / "pages"), format="parquet").to_table(
        columns=["elapsed_ms"]
    )
    return statistics.fmean(table.column("elapsed_ms").to_pylist())


def pairs(folder: Path, root: Path, name: str, k: int, workers: int) -> dict:
    runs: dict[str, list[dict]] = {"ocr": [], "structure": []}
    for i in range(k):
        for route in runs:
            out = root / f"out-{name}-{route}-{i}"
            run = pipeline(folder, out, [f"route={route}"], workers)
            run["engine_ms_per_page"] = round(_engine_ms(out), 1)
            runs[route].append(run)
    ratios = {
        metric: round(
            statistics.median(
                s[metric] / o[metric]
                for o, s in zip(runs["ocr"], runs["structure"], strict=True)
            ),
            3,
        )
        for metric in ("engine_ms_per_page", "seconds_wall")
    }
    return {"runs": runs, "structure_over_ocr": ratios}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2, help="interleaved pairs")
    parser.add_argument("--pages", type=int, default=32, help="bench pages")
    parser.add_argument("--table-copies", type=int, default=3)
    args = parser.parse_args()
    workers = cores()
    result = {"bench": "structure_cost", "cores": workers, "pairs": args.pairs}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bench = root / "bench-pages"
        write_page_folder(bench, 150, args.pages)
        tables = root / "table-pages"
        n_tables = _table_folder(tables, args.table_copies)
        for name, folder, n in (
            ("bench", bench, args.pages),
            ("tables", tables, n_tables),
        ):
            result[name] = pairs(folder, root, name, args.pairs, workers)
            ratio = result[name]["structure_over_ocr"]
            engine, wall = ratio["engine_ms_per_page"], ratio["seconds_wall"]
            print(
                f"{name} pages ({n}): structure/ocr engine time per page "
                f"{engine:.3f}, wall clock {wall:.3f}"
            )
            for route, runs in result[name]["runs"].items():
                cells = ", ".join(
                    f"{r['pages_per_s']} pages/s "
                    f"({r['engine_ms_per_page']:.0f} ms/page)"
                    for r in runs
                )
                print(f"  {route}: {cells}")
    emit(result)


if __name__ == "__main__":
    main()
