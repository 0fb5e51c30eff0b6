"""Recognition batching and inference backends on the same text-line crops.

Cuts the text lines of N pages (rendered from the real PDFs in tests/data,
detected by PP-OCRv5 mobile as the OCR pipeline does), then, one intra-op
thread, side by side in one run:

* the recogniser with int8 convolutions (the shipped file) on onnxruntime
  with batches of 1, 4, 8 and 16 lines sorted by width (PaddleOCR's own
  order: a batch is padded to its widest line, so sorting keeps the padding
  small);
* on CPUs with VNNI, the recogniser ocrbeam runs by default: the same with
  its character classifier quantised too (``int8+head``, as
  ``bundled_model_dirs`` assembles it);
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
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import emit  # noqa: E402
from bench.int8_static import line_inputs  # noqa: E402

BATCH_SIZES = (1, 4, 8, 16)


def _inputs(pages: int, dpi: int):
    """(model folders, line crops as recogniser inputs, detector inputs)."""
    from ocrbeam.transforms.weights import bundled_model_dirs

    crops, det_inputs = [], []
    for bgr, lines in line_inputs(dpi, pages):
        det_inputs.append(_det_input(bgr))
        crops.extend(lines)
    return bundled_model_dirs("onnxruntime"), crops, det_inputs


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
    from ocrbeam.transforms.quality import edit_distance

    pairs = list(zip(reference, hypothesis, strict=True))
    chars = sum(len(r) for r, _ in pairs) or 1
    return sum(edit_distance(r, h) for r, h in pairs) / chars


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=3)
    parser.add_argument("--dpi", type=int, default=144)
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds")
    args = parser.parse_args()
    import yaml

    dirs, crops, det_inputs = _inputs(args.pages, args.dpi)
    fp32 = str(dirs["rec"] / "inference.onnx")
    int8 = str(Path(__file__).resolve().parent.parent / "ocrbeam" / "models"
               / "PP-OCRv5_mobile_rec_int8.onnx")  # fmt: skip
    from ocrbeam.transforms.onnx_fold import cpu_has_vnni
    from ocrbeam.transforms.weights import bundled_model_dirs

    recognisers = [("fp32", fp32), ("int8", int8)]
    if cpu_has_vnni():
        assembled = bundled_model_dirs("onnxruntime", rec_precision="int8")["rec"]
        recognisers.append(("int8+head", str(assembled / "inference.onnx")))
    characters = yaml.safe_load((dirs["rec"] / "inference.yml").read_text())[
        "PostProcess"
    ]["character_dict"]
    backends = {"onnxruntime": _onnxruntime}
    try:
        import openvino  # noqa: F401

        backends["openvino"] = _openvino
    except ImportError:
        print("openvino not installed: onnxruntime only")

    pages = args.pages
    # Every variant, built once; then timed in --repeat interleaved rounds (this
    # machine's speed drifts by 10-30% between minutes), keeping the fastest.
    variants = []
    for backend, build in backends.items():
        for precision, path in recognisers:
            if backend != "onnxruntime" and precision == "int8+head":
                continue  # DynamicQuantizeMatMul is onnxruntime's own op
            run = build(path)
            sizes = (
                BATCH_SIZES if (backend, precision) == ("onnxruntime", "int8") else (1,)
            )
            variants += [("rec", backend, precision, size, run) for size in sizes]
        variants.append(
            ("det", backend, "fp32", 1, build(str(dirs["det"] / "inference.onnx")))
        )
    seconds: dict = {}
    texts: dict = {}
    for _ in range(args.repeat):
        for model, backend, precision, size, run in variants:
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
    reference = texts[("rec", "onnxruntime", "fp32", 1)]
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
    print(f"{pages} pages at {args.dpi} dpi, {len(crops)} text lines, one thread")
    for r in rows:
        extra = (
            f"  disagreement with onnxruntime fp32 {r['disagreement']:.2%}"
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
    emit({"bench": "backends", "pages": pages, "lines": len(crops), "results": rows})


if __name__ == "__main__":
    main()
