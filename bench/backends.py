"""Recognition batching and inference backends on the same text-line crops.

Cuts the text lines of N pages (rendered from the real PDFs in tests/data,
detected by PP-OCRv5 mobile as the OCR pipeline does), then, one intra-op
thread, side by side in one run:

* the int8 recogniser ocrbeam ships (``int8``: int8 convolutions, its
  character classifier quantised, hard-swish activations on uint8; the
  default on CPUs with VNNI or Arm) on onnxruntime with batches of 1, 4, 8
  and 16 lines sorted by width (PaddleOCR's own order: a batch is padded to
  its widest line, so sorting keeps the padding small);
* with ``--int8-base BASE.onnx`` (the statically quantised recogniser the
  shipped one is built from: ocrbeam/models/PROVENANCE.md) also the steps
  between: ``int8-conv`` (BASE itself) and ``int8-conv+head`` (its character
  classifier quantised);
* the recogniser (fp32 and int8) and the detector (fp32) on onnxruntime and,
  when the ``openvino`` package is installed (it is not a dependency of
  ocrbeam), on OpenVINO's CPU plugin.

Each variant is timed in ``--repeat`` interleaved rounds; the fastest and
the median are printed (this machine's speed drifts between minutes).  Prints
seconds per page, and for the recogniser the character disagreement (edit
distance per character, greedy CTC decoding) with onnxruntime fp32, so a
faster variant that reads differently shows.

    python bench/backends.py --pages 2
    pip install openvino && python bench/backends.py --pages 2
    python bench/backends.py --pages 3 --repeat 8 --width-scale 0.85 \
        --only fp32,int8
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import emit  # noqa: E402
from bench.int8_static import line_inputs  # noqa: E402

BATCH_SIZES = (1, 4, 8, 16)


def _inputs(pages: int, dpi: int):
    """(model folders, line crops as recogniser inputs, detector inputs)."""
    from ocrbeam.models.bundled import bundled_model_dirs

    crops, det_inputs = [], []
    for bgr, lines in line_inputs(dpi, pages):
        det_inputs.append(_det_input(bgr))
        crops.extend(lines)
    return bundled_model_dirs("onnxruntime"), crops, det_inputs


def _narrowed(x, scale: float):
    """A recogniser input narrowed to ``scale`` of its width (height kept), as
    ``ocr.textRecognitionWidthScale`` narrows a line before it is read."""
    import cv2
    import numpy as np

    width = max(8, int(x.shape[3] * scale))
    image = cv2.resize(x[0].transpose(1, 2, 0), (width, x.shape[2]))
    return np.ascontiguousarray(image.transpose(2, 0, 1)[None])


def _int8_steps(base: Path, tmp: Path) -> list[tuple[str, str]]:
    """The int8 recogniser's build steps before the shipped one (its base;
    the base with its character classifier quantised)."""
    import onnx

    from ocrbeam.models.onnx_quant import quantize_ctc_head

    head, changed = quantize_ctc_head(onnx.load(str(base)))
    if not changed:
        raise SystemExit(f"{base}: no CTC head to quantise")
    onnx.save(head, str(tmp / "int8-conv+head.onnx"))
    return [
        ("int8-conv", str(base)),
        ("int8-conv+head", str(tmp / "int8-conv+head.onnx")),
    ]


def _det_input(bgr):
    """The detector's input at ocrbeam's default limit (min side 64: the page
    as rendered, rounded to multiples of 32), normalised as PaddleOCR does."""
    import cv2
    import numpy as np

    h, w = bgr.shape[:2]
    resized = cv2.resize(
        bgr, (max(32, round(w / 32) * 32), max(32, round(h / 32) * 32))
    )
    x = resized.astype("float32") / 255.0
    x = (x - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    return x.transpose(2, 0, 1)[None].astype("float32")


def _onnxruntime(path: str):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: x})[0]


def _openvino(path: str):
    import openvino as ov

    compiled = ov.Core().compile_model(
        path,
        "CPU",
        {"INFERENCE_NUM_THREADS": 1, "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY"},
    )
    request = compiled.create_infer_request()
    return lambda x: request.infer({0: x})[0].copy()


def _batched(run, crops, size: int):
    """Outputs per crop (in input order) and seconds, batches sorted by width."""
    import numpy as np

    order = sorted(range(len(crops)), key=lambda i: crops[i].shape[3])
    outputs: list = [None] * len(crops)
    start = time.perf_counter()
    for k in range(0, len(order), size):
        batch = order[k : k + size]
        width = max(crops[i].shape[3] for i in batch)
        x = np.zeros((len(batch), 3, 48, width), np.float32)
        for j, i in enumerate(batch):
            x[j, :, :, : crops[i].shape[3]] = crops[i][0]
        y = run(x)
        for j, i in enumerate(batch):
            # Drop the time steps of this line's padding.
            outputs[i] = y[j][: -(-crops[i].shape[3] // 8)]
    return outputs, time.perf_counter() - start


def _decode(outputs, characters: list[str]) -> list[str]:
    texts = []
    for y in outputs:
        best = y.argmax(-1)
        keep = [c for k, c in enumerate(best) if c and (k == 0 or c != best[k - 1])]
        texts.append(
            "".join(characters[c - 1] for c in keep if c - 1 < len(characters))
        )
    return texts


def _disagreement(reference: list[str], hypothesis: list[str]) -> float:
    """Edits per reference character over all lines."""
    from ocrbeam.text.quality import edit_distance

    pairs = list(zip(reference, hypothesis, strict=True))
    chars = sum(len(r) for r, _ in pairs) or 1
    return sum(edit_distance(r, h) for r, h in pairs) / chars


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=3)
    parser.add_argument("--dpi", type=int, default=144)
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds")
    parser.add_argument(
        "--int8-base",
        type=Path,
        default=None,
        help="the statically quantised recogniser the shipped int8 one is built "
        "from: also time it and it with only its character classifier quantised",
    )
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated recognisers (fp32, int8; with --int8-base also "
        "int8-conv, int8-conv+head): time only "
        "these, on onnxruntime, batch 1, in alternating order, and print each "
        "round's time relative to the first one listed",
    )
    parser.add_argument(
        "--width-scale",
        type=float,
        default=1.0,
        help="narrow every line to this fraction of its width first (ocrbeam's "
        "default ocr.textRecognitionWidthScale is 0.85)",
    )
    args = parser.parse_args()
    import yaml

    dirs, crops, det_inputs = _inputs(args.pages, args.dpi)
    if args.width_scale < 1.0:
        crops = [_narrowed(x, args.width_scale) for x in crops]
    from ocrbeam.models.bundled import INT8_RECOGNITION_MODEL, shipped_model_dir

    fp32 = str(dirs["rec"] / "inference.onnx")
    int8 = str(shipped_model_dir(INT8_RECOGNITION_MODEL) / "inference.onnx")
    recognisers = [("fp32", fp32), ("int8", int8)]
    if args.int8_base:
        recognisers += _int8_steps(args.int8_base, Path(tempfile.mkdtemp()))
    only = [name for name in args.only.split(",") if name]
    if only:
        known = dict(recognisers)
        missing = [name for name in only if name not in known]
        if missing:
            parser.error(f"--only: {missing} not available here (have {list(known)})")
        recognisers = [(name, known[name]) for name in only]
    characters = yaml.safe_load((dirs["rec"] / "inference.yml").read_text())[
        "PostProcess"
    ]["character_dict"]
    backends = {"onnxruntime": _onnxruntime}
    try:
        import openvino  # noqa: F401

        if not only:
            backends["openvino"] = _openvino
    except ImportError:
        print("openvino not installed: onnxruntime only")

    pages = args.pages
    # Every variant, built once; then timed in --repeat interleaved rounds (this
    # machine's speed drifts by 10-30% between minutes): fastest and median.
    variants = []
    for backend, build in backends.items():
        for precision, path in recognisers:
            if backend != "onnxruntime" and precision not in ("fp32", "int8-conv"):
                continue  # onnxruntime's own contrib ops
            run = build(path)
            batched = (backend, precision) == ("onnxruntime", "int8") and not only
            sizes = BATCH_SIZES if batched else (1,)
            variants += [("rec", backend, precision, size, run) for size in sizes]
        if not only:
            variants.append(
                ("det", backend, "fp32", 1, build(str(dirs["det"] / "inference.onnx")))
            )
    seconds: dict = {}
    texts: dict = {}
    for round_ in range(args.repeat):
        # Alternate the order, so neither side always runs first.
        for model, backend, precision, size, run in (
            variants if round_ % 2 == 0 else variants[::-1]
        ):
            key = (model, backend, precision, size)
            if model == "rec":
                run(crops[0])  # warm up
                outputs, took = _batched(run, crops, size)
                texts[key] = _decode(outputs, characters)
            else:
                run(det_inputs[0])
                start = time.perf_counter()
                for x in det_inputs:
                    run(x)
                took = time.perf_counter() - start
            seconds.setdefault(key, []).append(took / pages)
    reference_name = "fp32" if "fp32" in dict(recognisers) else recognisers[0][0]
    reference = texts[("rec", "onnxruntime", reference_name, 1)]
    rows = []
    for key, values in seconds.items():
        model, backend, precision, size = key
        row = {
            "model": model,
            "backend": backend,
            "precision": precision,
            "batch": size,
            "s_per_page": round(min(values), 3),
            "s_per_page_median": round(statistics.median(values), 3),
            "s_per_page_runs": [round(v, 3) for v in values],
        }
        if model == "rec":
            row["disagreement"] = round(_disagreement(reference, texts[key]), 4)
        rows.append(row)
    print(
        f"{pages} pages at {args.dpi} dpi, {len(crops)} text lines"
        f" (width x{args.width_scale:g}), one thread"
    )
    for r in rows:
        extra = (
            f"  disagreement with onnxruntime {reference_name} {r['disagreement']:.2%}"
            if "disagreement" in r
            else ""
        )
        print(
            f"{r['model']} {r['backend']:<11} {r['precision']:<9} "
            f"batch {r['batch']:>2}: "
            f"{r['s_per_page']:.3f} s/page, median {r['s_per_page_median']:.3f} "
            f"(of {r['s_per_page_runs']})"
            f"{extra}"
        )
    speedups = {}
    if only and len(recognisers) > 1:
        # Each round's time of the first recogniser over each other's: the
        # pairs ran back to back, so this ratio drifts less than either time.
        base = seconds[("rec", "onnxruntime", recognisers[0][0], 1)]
        for name, _path in recognisers[1:]:
            other = seconds[("rec", "onnxruntime", name, 1)]
            ratios = [a / b for a, b in zip(base, other, strict=True)]
            speedups[name] = {
                "median": round(statistics.median(ratios), 3),
                "rounds": [round(r, 3) for r in ratios],
            }
            print(
                f"{name} vs {recognisers[0][0]}: {speedups[name]['median']:.3f}x "
                f"faster, median of the rounds {speedups[name]['rounds']}"
            )
    emit(
        {
            "bench": "backends",
            "pages": pages,
            "lines": len(crops),
            "width_scale": args.width_scale,
            "results": rows,
            "speedups": speedups,
        }
    )


if __name__ == "__main__":
    main()
