"""Scale: time and peak memory of ``ocrbeam run`` on many and on long documents.

Generates, then runs ``ocrbeam run`` on each (the default local run, sampling
the resident memory of its whole process tree: launcher, engines, renderer):

* ``files-1k`` and ``files-10k``: one folder of 1,000 and of 10,000 small
  files (blank scans, a text scan every 100, a non-document every 500): peak
  memory should not grow with the number of files;
* ``pdf-2000``: one PDF of 2,000 pages, text on 3 of them, blank the rest;
* ``tiff-bad-frame``: a 3-frame TIFF whose middle frame is corrupt.

For each: wall clock, documents and pages per second, the peak resident
memory of the tree and by role, the files the run wrote, and whether its
accounting was exact.  Then one JSON line.

    python bench/scale.py
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from bench.common import emit, ocrbeam_run_command  # noqa: E402
from bench.overhead import sampled_run  # noqa: E402


def _cases(root: Path, only: list[str]) -> dict[str, Path]:
    from docs import SENTENCES, long_pdf, small_files, tiff_with_a_bad_frame

    cases = {}
    for name, count in (("files-1k", 1_000), ("files-10k", 10_000)):
        if not only or name in only:
            small_files(root / name, count)
            cases[name] = root / name
    if not only or "pdf-2000" in only:
        (root / "pdf-2000").mkdir()
        (root / "pdf-2000" / "long.pdf").write_bytes(long_pdf(2000, {0, 999, 1999}))
        cases["pdf-2000"] = root / "pdf-2000"
    if not only or "tiff-bad-frame" in only:
        (root / "tiff").mkdir()
        frames = [SENTENCES[0:2], SENTENCES[2:4], SENTENCES[4:6]]
        (root / "tiff" / "scan.tiff").write_bytes(tiff_with_a_bad_frame(frames, 1))
        cases["tiff-bad-frame"] = root / "tiff"
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=[], help="one case")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, folder in _cases(root / "in", args.only).items():
            out = root / "out" / name
            run = sampled_run(ocrbeam_run_command(folder, out, []))
            run.pop("stderr")
            summary = json.loads((out / "_SUMMARY.json").read_text())
            files = sum(1 for p in out.rglob("*") if p.is_file())
            results[name] = {
                "wall_s": run["wall_s"],
                "documents": summary["documents_in"],
                "pages": summary["pages_done"] + summary["pages_failed"],
                "documents_per_s": round(summary["documents_in"] / run["wall_s"], 1),
                "pages_per_s": round(
                    (summary["pages_done"] + summary["pages_failed"]) / run["wall_s"], 1
                ),
                "peak_total_rss_mb": run["peak_total_rss_mb"],
                "peak_rss_mb": run["peak_rss_mb"],
                "files_written": files,
                "accounting_ok": summary["ok"],
                "errors_by_type": summary["errors_by_type"],
            }
    print(f"{'case':<16} {'docs':>6} {'pages':>6} {'wall s':>7} {'docs/s':>7} "
          f"{'pages/s':>8} {'peak MB':>8} {'files':>6}  accounting")  # fmt: skip
    for name, r in results.items():
        print(f"{name:<16} {r['documents']:>6} {r['pages']:>6} {r['wall_s']:>7.1f} "
              f"{r['documents_per_s']:>7.1f} {r['pages_per_s']:>8.1f} "
              f"{r['peak_total_rss_mb']:>8} {r['files_written']:>6}  "
              f"{'exact' if r['accounting_ok'] else 'FAILED'}")  # fmt: skip
    emit({"bench": "scale", "cases": results})


if __name__ == "__main__":
    main()
