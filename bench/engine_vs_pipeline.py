"""Engine vs pipeline: PaddleOCR called directly vs ``ocrbeam run``, same pages.

Renders N pages from the real PDFs in tests/data to PNG, then, in one run:

1. direct: PaddleOCR built with exactly the kwargs ocrbeam's handler uses,
   called page by page in one process (threads = cores);
2. direct, one process per core (one thread each), the pages split between them:
   the best direct use of the engine on this machine;
   Both are timed twice: OCR only (the engine warm: the strictest
   comparison) and end to end (processes started, PaddleOCR imported, models
   loaded: what a script doing the same job pays, as the pipeline does);
3. pipeline: ``ocrbeam run`` on the folder with ``route: ocr`` (the work the
   direct engine does; the default local run otherwise: Beam in its own
   process, a pool of one engine process per core), wall clock of the
   whole command, startup and model loads included; and again on the first
   ``--small`` pages, which gives the steady-state rate (extra pages / extra
   seconds: the fixed start and end cancel out) and the fixed cost;
4. the same two pipeline runs with one engine process (scaling);
5. with ``--ab-pairs K``: K interleaved pairs of the large run with the shared
   engine pool on and off (single runs vary by +-10% on a shared machine);
6. with ``--mode-pairs K``: K interleaved pairs of the large run as it is and
   with ``--direct_running_mode multi_processing`` (Beam's SDK worker
   processes sharing the pool, the other way a local run can go);
7. with ``--ratio-pairs K``: K more interleaved pairs of (best direct, one
   process per core; ``ocrbeam run``) on the large page set, so that the
   machine's drift between runs falls on both sides alike: the ratio of each
   pair and their median;
8. with ``--profile-pairs K``: K interleaved pairs of ``ocrbeam run`` on the
   24 scanned-looking evaluation pages (bench/scanned_pages.py) with the
   default recogniser and with the other precision
   (``ocr.textRecognitionPrecision``: fp32 and the int8 speed profile), each
   run's pages/s beside the word F1 and line CER of what it wrote: what the
   speed profile gains and what it costs, measured together;
9. with ``--baselines``: PaddleOCR's own reference configurations, on the
   same pages in the same run, so that ``ocrbeam run`` is compared with them
   on the machine as it is now, not with figures from another hour:
   PaddleOCR itself (no ocrbeam code in the engine) on the registry's ONNX
   exports as shipped (fp32, not folded), lines at full
   width, no orientation step (less work than ocrbeam does):
   ``onnxruntime defaults``, one process, onnxruntime's threads, recognition
   batch 6, detection at min side 64; and ``PaddleOCR tuned``,
   one process per core with one thread, recognition batch 1, detection at
   max side 1280.

Prints pages/s for each and the ratios pipeline / best direct (wall clock
against OCR only, steady state, and wall clock against end to end), then one
JSON line.

    python bench/engine_vs_pipeline.py --pages 32
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    Timer,
    cores,
    emit,
    engine_settings,
    ocrbeam_run_command,
    registry_model_dir,
    write_page_folder,
)


def _engine(threads: int, overrides: list[str], plain: bool = False):
    import numpy as np  # noqa: F401

    from ocrbeam.engines.ppocrv5 import create_pipeline

    settings = engine_settings(overrides, threads)
    if plain:  # PaddleOCR as it comes: none of ocrbeam's engine code
        import logging

        from paddleocr import PaddleOCR

        logging.getLogger("paddlex").setLevel(logging.WARNING)
        return PaddleOCR(**settings.pipeline_kwargs), settings.predict_kwargs
    # PaddleOCR itself, with the engine settings ocrbeam runs it with (models,
    # threads, recognition batch, line width, gated line orientation): the
    # pipeline's overhead is what the ratio is about.
    pipeline = create_pipeline(
        settings.pipeline_kwargs,
        settings.rec_width_scale,
        settings.textline_below_score,
    )
    return pipeline, settings.predict_kwargs


def _direct_worker(args) -> tuple[int, float]:
    paths, threads, overrides, plain = args
    import numpy as np
    from PIL import Image

    ocr, predict_kwargs = _engine(threads, overrides, plain)
    with Timer() as t:
        for path in paths:
            image = np.asarray(Image.open(path).convert("RGB"))[:, :, ::-1]
            ocr.predict(np.ascontiguousarray(image), **predict_kwargs)
    return len(paths), t.seconds


def direct(
    paths: list[Path], processes: int, overrides: list[str], plain: bool = False
) -> dict:
    """Pages/s of the engine alone (model load excluded, as a warm worker);
    ``plain``: PaddleOCR as it comes, without ocrbeam's engine code."""
    threads = max(1, cores() // processes)
    shards = [paths[i::processes] for i in range(processes)]
    ctx = mp.get_context("spawn")
    with Timer() as wall, ctx.Pool(processes) as pool:
        jobs = [(s, threads, overrides, plain) for s in shards]
        results = pool.map(_direct_worker, jobs)
    busy = max(seconds for _, seconds in results)
    return {
        "processes": processes,
        "threads_per_process": threads,
        "pages": len(paths),
        "seconds_inference": round(busy, 2),
        "seconds_wall_with_load": round(wall.seconds, 2),
        "pages_per_s": round(len(paths) / busy, 3),
        # What a script doing the same job pays start to finish: processes
        # started, PaddleOCR imported, models loaded, pages OCR'd.
        "pages_per_s_end_to_end": round(len(paths) / wall.seconds, 3),
    }


def pipeline(
    folder: Path, out: Path, overrides: list[str], workers: int, *options: str
) -> dict:
    cmd = ocrbeam_run_command(
        folder, out, overrides, "--workers", str(workers), *options
    )
    with Timer() as t:
        proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"ocrbeam run failed:\n{proc.stderr[-4000:]}")
    import pyarrow.dataset as ds

    rows = ds.dataset(str(out / "pages"), format="parquet").count_rows()
    return {
        "workers": workers,
        "pages": rows,
        "seconds_wall": round(t.seconds, 2),
        "pages_per_s": round(rows / t.seconds, 3),
    }


def scanned_folder(folder: Path) -> dict[str, str]:
    """Write the scanned-looking evaluation pages as JPEG files into
    ``folder``; returns ``{file name: true text}``."""
    from bench.scanned_pages import evaluation_pages

    folder.mkdir(parents=True)
    truths = {}
    for page in evaluation_pages():
        (folder / f"{page.name}.jpg").write_bytes(page.jpeg)
        truths[f"{page.name}.jpg"] = page.truth
    return truths


def scored_pipeline(
    folder: Path, out: Path, overrides: list[str], workers: int, truths: dict
) -> dict:
    """:func:`pipeline`, and the mean word F1 and line CER of its pages."""
    import pyarrow.dataset as ds

    from ocrbeam.text.quality import line_cer, word_f1

    run = pipeline(folder, out, overrides, workers)
    table = ds.dataset(str(out / "pages"), format="parquet").to_table(
        columns=["source_uri", "text"]
    )
    texts = {Path(r["source_uri"]).name: r["text"] for r in table.to_pylist()}
    missing = sorted(set(truths) - set(texts))
    if missing:
        raise SystemExit(f"ocrbeam run wrote no page for {missing}")
    run["word_f1"] = round(
        sum(word_f1(truths[n], texts[n]) for n in truths) / len(truths), 4
    )
    run["line_cer"] = round(
        sum(line_cer(truths[n], texts[n]) for n in truths) / len(truths), 4
    )
    return run


def profile_pairs(root: Path, overrides: list[str], workers: int, k: int) -> dict:
    """K interleaved runs of each recogniser precision on the scanned pages."""
    from ocrbeam.transforms.config import load_config

    default = load_config(None, overrides).ocr.text_recognition_precision
    other = {"int8": "fp32", "fp32": "int8"}[default]
    folder = root / "scanned"
    truths = scanned_folder(folder)
    runs = {default: [], other: []}
    for i in range(k):
        for precision in runs:
            extra = [] if precision == default else [
                f"ocr.textRecognitionPrecision={precision}"
            ]  # fmt: skip
            out = root / f"out-profile-{i}-{precision}"
            runs[precision].append(
                scored_pipeline(folder, out, overrides + extra, workers, truths)
            )
    return {"default": default, "runs": runs}


def registry_model_dirs(root: Path) -> dict[str, Path]:
    """Folders of the registry's PP-OCRv5 mobile ONNX exports as shipped (not
    folded, fp32), with PaddleX's inference.yml: what PaddleOCR's own
    onnxruntime engine runs."""
    names = {"det": "PP-OCRv5_mobile_det", "rec": "PP-OCRv5_mobile_rec"}
    return {k: registry_model_dir(n, root) for k, n in names.items()}


def baselines(paths: list[Path], root: Path, n: int) -> dict:
    """Pages/s of the reference configurations (module docstring)."""
    dirs = registry_model_dirs(root)
    common = [
        f"ocr.textDetectionModelDir={dirs['det']}",
        f"ocr.textRecognitionModelDir={dirs['rec']}",
        "ocr.textRecognitionWidthScale=1.0",
        "ocr.useDocOrientationClassify=false",
        "ocr.useTextlineOrientation=false",
    ]
    defaults = common + ["ocr.textRecognitionBatchSize=6"]
    best = common + [
        "ocr.textRecognitionBatchSize=1",
        "ocr.textDetLimitType=max",
        "ocr.textDetLimitSideLen=1280",
    ]
    return {
        "onnxruntime_defaults": direct(paths, 1, defaults, plain=True),
        "paddleocr_tuned": direct(paths, n, best, plain=True),
    }


def marginal(small: dict, large: dict) -> dict:
    """Steady-state rate: the extra pages of the large run over its extra time
    (startup, model loads and shutdown, the same in both runs, cancel out)."""
    extra_pages = large["pages"] - small["pages"]
    extra_s = large["seconds_wall"] - small["seconds_wall"]
    return {
        "fixed_seconds": round(large["seconds_wall"] - extra_s / extra_pages
                               * large["pages"], 1),
        "pages_per_s": round(extra_pages / extra_s, 3),
    }  # fmt: skip


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return round((ordered[mid - 1] + ordered[mid]) / 2, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=32, help="pages to OCR")
    parser.add_argument(
        "--small",
        type=int,
        default=0,
        help="pages of the second, shorter pipeline run that gives the "
        "steady-state rate (default: pages/4)",
    )
    parser.add_argument("--dpi", type=int, default=150)
    parser.add_argument(
        "--no-scaling",
        action="store_true",
        help="skip the one-engine pipeline runs",
    )
    parser.add_argument(
        "--ab-pairs",
        type=int,
        default=0,
        help="also run the large pipeline run this many times with "
        "ocr.sharedEngines on and off, interleaved, and compare",
    )
    parser.add_argument(
        "--mode-pairs",
        type=int,
        default=0,
        help="also run the large pipeline run this many times as it is and "
        "with --direct_running_mode multi_processing, interleaved, and compare",
    )
    parser.add_argument(
        "--ratio-pairs",
        type=int,
        default=0,
        help="also run this many interleaved (direct, one process per core; "
        "ocrbeam run) pairs and report each pair's ratios and the median",
    )
    parser.add_argument(
        "--profile-pairs",
        type=int,
        default=0,
        help="also run this many interleaved pairs of ocrbeam run on the "
        "scanned-looking evaluation pages with the default recogniser and the "
        "other precision, and report pages/s beside word F1",
    )
    parser.add_argument(
        "--baselines",
        action="store_true",
        help="also time the reference configurations (PaddleOCR's "
        "onnxruntime defaults; its best configuration) on the same pages",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        help="config overrides applied to both sides",
    )
    args = parser.parse_args()
    # The direct engine reads lines; so does route ocr (route structure's
    # layout and table models are timed by bench/structure_cost.py).
    same_work = ["route=ocr", *args.overrides]
    small_n = args.small or max(2, args.pages // 4)
    n = cores()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "pages"
        small_folder = Path(tmp) / "pages-small"
        paths = [p for p, _ in write_page_folder(folder, args.dpi, args.pages)]
        small_folder.mkdir()
        for path in paths[:small_n]:
            (small_folder / path.name).write_bytes(path.read_bytes())
        one = direct(paths, 1, same_work)
        many = direct(paths, n, same_work) if n > 1 else one
        best = max(one, many, key=lambda r: r["pages_per_s"])
        runs = {}
        for workers in [n] if args.no_scaling or n == 1 else [n, 1]:
            for name, src in (("large", folder), ("small", small_folder)):
                out = Path(tmp) / f"out-{workers}-{name}"
                runs[workers, name] = pipeline(src, out, same_work, workers)
        ab = {"true": [], "false": []}
        for i in range(args.ab_pairs):
            for shared in ab:
                out = Path(tmp) / f"out-ab-{i}-{shared}"
                extra = [f"ocr.sharedEngines={shared}"]
                run = pipeline(folder, out, same_work + extra, n)
                ab[shared].append(run["seconds_wall"])
        modes = {"in_process": [], "multi_processing": []}
        for i in range(args.mode_pairs):
            for mode in modes:
                out = Path(tmp) / f"out-mode-{i}-{mode}"
                extra = [] if mode == "in_process" else ["--direct_running_mode", mode]
                run = pipeline(folder, out, same_work, n, *extra)
                modes[mode].append(run["seconds_wall"])
        pairs = []
        for i in range(args.ratio_pairs):
            d = direct(paths, n, same_work)
            p = pipeline(folder, Path(tmp) / f"out-pair-{i}", same_work, n)
            pairs.append(
                {
                    "direct": d,
                    "pipeline": p,
                    "ratio": round(p["pages_per_s"] / d["pages_per_s"], 3),
                    "ratio_end_to_end": round(
                        p["pages_per_s"] / d["pages_per_s_end_to_end"], 3
                    ),
                }
            )
        refs = baselines(paths, Path(tmp) / "models", n) if args.baselines else {}
        profiles = (
            profile_pairs(Path(tmp), args.overrides, n, args.profile_pairs)
            if args.profile_pairs
            else None
        )
    pipe = runs[n, "large"]
    steady = {w: marginal(runs[w, "small"], runs[w, "large"]) for w, _ in runs}
    ratio = pipe["pages_per_s"] / best["pages_per_s"]
    best_e2e = max(one, many, key=lambda r: r["pages_per_s_end_to_end"])
    ratio_e2e = pipe["pages_per_s"] / best_e2e["pages_per_s_end_to_end"]
    steady_ratio = steady[n]["pages_per_s"] / best["pages_per_s"]
    print(f"{args.pages} pages, {n} cores")
    print(
        f"direct, 1 process x {one['threads_per_process']} threads: "
        f"{one['pages_per_s']:.3f} pages/s"
    )
    print(
        f"direct, {many['processes']} processes x {many['threads_per_process']} "
        f"thread(s): {many['pages_per_s']:.3f} pages/s"
    )
    for workers in sorted(steady):
        large = runs[workers, "large"]
        print(
            f"ocrbeam run, {workers} engine process(es): {large['pages_per_s']:.3f} "
            f"pages/s wall clock ({large['seconds_wall']:.0f} s); steady state "
            f"{steady[workers]['pages_per_s']:.3f} pages/s (from the {small_n}-page "
            f"run: {steady[workers]['fixed_seconds']:.0f} s fixed start and end)"
        )
    for shared, seconds in ab.items() if args.ab_pairs else ():
        mean = sum(seconds) / len(seconds)
        print(
            f"ocrbeam run, sharedEngines={shared}: {seconds} s, mean "
            f"{mean:.1f} s ({args.pages / mean:.3f} pages/s)"
        )
    for mode, seconds in modes.items() if args.mode_pairs else ():
        mean = sum(seconds) / len(seconds)
        print(
            f"ocrbeam run, {mode}: {seconds} s, mean {mean:.1f} s "
            f"({args.pages / mean:.3f} pages/s)"
        )
    print(
        f"direct end to end (processes started, models loaded, then OCR), best: "
        f"{best_e2e['pages_per_s_end_to_end']:.3f} pages/s "
        f"({best_e2e['seconds_wall_with_load']:.0f} s)"
    )
    print(
        f"ratio pipeline wall clock / best direct, OCR only (the engine warm, "
        f"loads excluded): {ratio:.2f}"
    )
    print(f"ratio pipeline / best direct, steady state: {steady_ratio:.2f}")
    print(
        f"ratio pipeline wall clock / best direct end to end (both start cold): "
        f"{ratio_e2e:.2f}"
    )
    for i, pair in enumerate(pairs):
        print(
            f"pair {i + 1}: direct {pair['direct']['pages_per_s']:.3f} pages/s OCR "
            f"only, {pair['direct']['pages_per_s_end_to_end']:.3f} end to end; "
            f"ocrbeam run {pair['pipeline']['pages_per_s']:.3f}; ratios "
            f"{pair['ratio']:.2f} / {pair['ratio_end_to_end']:.2f}"
        )
    if pairs:
        print(
            f"median ratio over {len(pairs)} pairs: "
            f"{_median([p['ratio'] for p in pairs]):.2f} to OCR only, "
            f"{_median([p['ratio_end_to_end'] for p in pairs]):.2f} end to end"
        )
    for precision, runs_of in profiles["runs"].items() if profiles else ():
        label = "default" if precision == profiles["default"] else "profile"
        print(
            f"scanned pages, {precision} recogniser ({label}): pages/s "
            f"{[r['pages_per_s'] for r in runs_of]} median "
            f"{_median([r['pages_per_s'] for r in runs_of]):.3f}; word F1 "
            f"{runs_of[0]['word_f1']:.4f}, line CER {runs_of[0]['line_cer']:.4f}"
        )
    for name, ref in refs.items():
        print(
            f"baseline {name.replace('_', ' ')} ({ref['processes']} process(es) x "
            f"{ref['threads_per_process']} thread(s), OCR only): "
            f"{ref['pages_per_s']:.3f} pages/s; ocrbeam run wall clock is "
            f"{pipe['pages_per_s'] / ref['pages_per_s']:.2f}x that"
        )
    emit(
        {
            "bench": "engine_vs_pipeline",
            "pages": args.pages,
            "small_pages": small_n,
            "dpi": args.dpi,
            "cores": n,
            "direct_1proc": one,
            "direct_nproc": many,
            "pipeline": pipe,
            "pipeline_runs": {f"{w}w-{k}": v for (w, k), v in runs.items()},
            "steady": {f"{w}w": v for w, v in steady.items()},
            "ratio": round(ratio, 3),
            "ratio_steady": round(steady_ratio, 3),
            "ratio_end_to_end": round(ratio_e2e, 3),
            "ab_shared_engines_seconds": ab if args.ab_pairs else None,
            "mode_pairs_seconds": modes if args.mode_pairs else None,
            "ratio_pairs": pairs or None,
            "baselines": refs or None,
            "profiles": profiles,
            "ratio_pairs_median": (
                _median([p["ratio"] for p in pairs]) if pairs else None
            ),
            "ratio_pairs_median_end_to_end": (
                _median([p["ratio_end_to_end"] for p in pairs]) if pairs else None
            ),
        }
    )


if __name__ == "__main__":
    main()
