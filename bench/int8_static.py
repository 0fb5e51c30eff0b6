"""Static INT8 quantisation of the PP-OCRv5 recogniser: speed and accuracy.

Calibrates onnxruntime's static QDQ quantisation (per-channel int8 weights,
uint8 activations, the VNNI fast path) on line crops of pages rendered at
120 dpi, then OCRs pages at 144 dpi (not used for calibration) with the fp32
and the int8 recogniser side by side, one thread, and prints seconds per page
and CER against the text layers.

    python bench/int8_static.py --pages 6
    python bench/int8_static.py --pages 6 --save BASE.onnx
    python -m ocrbeam.models.build --int8-base BASE.onnx

The last two commands make the int8 recogniser ocrbeam ships (its character
classifier and hard-swish activations are rewritten by the build step; see
ocrbeam/models/PROVENANCE.md).  Needs ``pip install ".[test]"`` (onnx).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import emit, rendered_pages  # noqa: E402
from bench.stages import variant_costs  # noqa: E402


def _rec_input(crop):
    import cv2
    import numpy as np

    h, w = crop.shape[:2]
    resized = cv2.resize(crop, (max(1, int(np.ceil(48 * w / h))), 48))
    x = (resized.astype("float32") / 255.0 - 0.5) / 0.5
    return x.transpose(2, 0, 1)[None]


def line_inputs(dpi: int, pages: int):
    """Yield ``(page as BGR array, [recogniser input of each text line])`` for
    pages rendered from the real PDFs, the lines detected by PP-OCRv5 mobile
    (ocrbeam's default limit: min side 64) and cut as the OCR pipeline cuts
    them."""
    yield from _line_inputs(image for _n, _i, image, _t in rendered_pages(dpi, pages))


def _line_inputs(images):
    import numpy as np
    from paddleocr import TextDetection
    from paddlex.inference.pipelines.components import CropByPolys

    from ocrbeam.models.bundled import bundled_model_dirs

    det = TextDetection(
        model_name="PP-OCRv5_mobile_det",
        model_dir=str(bundled_model_dirs("onnxruntime")["det"]),
        engine="onnxruntime", engine_config={"intra_op_num_threads": 1},
    )  # fmt: skip
    crop = CropByPolys(det_box_type="quad")
    for image in images:
        bgr = np.array(image)[:, :, ::-1].copy()
        polys = det.predict(bgr, limit_side_len=64, limit_type="min")[0]["dt_polys"]
        crops = crop(bgr, np.array(polys)) if len(polys) else []
        yield bgr, [_rec_input(c["img"] if isinstance(c, dict) else c) for c in crops]


def calibration_images(kind: str, pages: int):
    """The pages to calibrate on.  ``pdfs``: ``pages`` pages of the PDFs in
    tests/data rendered at 120 dpi (what the int8 recogniser was calibrated on
    until it met scanned pages).  ``varied``: the same PDFs at 100, 150, 200
    and 300 dpi, plus bench/scanned_pages.py's calibration pages (JPEG,
    noise, skew, small print, tables; none of the evaluation pages' faces,
    words or seed).  ``look-alike``: as ``varied``, but the scanned pages in
    the evaluation pages' faces and words (another seed): tuning to the
    evaluation set, to measure how much of a gap that hides."""
    import io

    from PIL import Image

    if kind == "pdfs":
        yield from (image for _n, _i, image, _t in rendered_pages(120, pages))
        return
    from bench.scanned_pages import calibration_pages

    for dpi in (100, 150, 200, 300):
        yield from (image for _n, _i, image, _t in rendered_pages(dpi, pages))
    for page in calibration_pages(look_alike=kind == "look-alike"):
        yield Image.open(io.BytesIO(page.jpeg)).convert("RGB")


def quantize(
    out_dir: Path,
    calibration_pages: int,
    op_types: list[str],
    calibration: str = "pdfs",
    method: str = "minmax",
) -> Path:
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from ocrbeam.models.bundled import bundled_model_dirs

    dirs = bundled_model_dirs("onnxruntime")
    inputs = []
    images = calibration_images(calibration, calibration_pages)
    for _bgr, lines in _line_inputs(images):
        inputs.extend(lines[::3])

    source = dirs["rec"] / "inference.onnx"
    model = onnx.load(str(source))
    name = model.graph.input[0].name
    # Per-channel DequantizeLinear needs opset 13 or later (the export is 11).
    upgraded = out_dir / "rec-op17.onnx"
    onnx.save(version_converter.convert_version(model, 17), str(upgraded))
    prepared = out_dir / "rec-pre.onnx"
    quant_pre_process(str(upgraded), str(prepared), skip_symbolic_shape=True)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter(inputs)

        def get_next(self):
            x = next(self._it, None)
            return None if x is None else {name: x}

    target = out_dir / "rec-int8"
    target.mkdir()
    quantize_static(
        str(prepared), str(target / "inference.onnx"), Reader(),
        quant_format=QuantFormat.QDQ, per_channel=True,
        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
        op_types_to_quantize=op_types or None,
        calibrate_method={"minmax": CalibrationMethod.MinMax,
                          "percentile": CalibrationMethod.Percentile,
                          "entropy": CalibrationMethod.Entropy}[method],
        extra_options={"CalibMovingAverage": True},
    )  # fmt: skip
    for item in dirs["rec"].iterdir():
        if item.name != "inference.onnx":
            shutil.copy(item, target / item.name)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=6)
    parser.add_argument(
        "--calibration-pages",
        type=int,
        default=12,
        help="pages of the PDFs to calibrate on (at each resolution)",
    )
    parser.add_argument(
        "--calibration",
        choices=("pdfs", "varied", "look-alike"),
        default="pdfs",
        help="pdfs: the PDFs at 120 dpi; varied: the PDFs at 100-300 dpi and "
        "scanned-looking pages in other faces and words than the evaluation "
        "set's; look-alike: as varied, in the evaluation set's faces and words",
    )
    parser.add_argument(
        "--method",
        choices=("minmax", "percentile", "entropy"),
        default="minmax",
        help="how activation ranges are chosen (onnxruntime's calibrators)",
    )
    parser.add_argument(
        "--op-types",
        default="Conv",
        help="comma-separated ONNX op types to quantise ('' for all); default "
        "Conv: the backbone, leaving the attention and CTC head in float",
    )
    parser.add_argument(
        "--save",
        default=None,
        metavar="FILE",
        help="also copy the int8 inference.onnx here (the base of the shipped "
        "int8 recogniser: python -m ocrbeam.models.build --int8-base FILE)",
    )
    args = parser.parse_args()
    op_types = [t for t in args.op_types.split(",") if t]
    with tempfile.TemporaryDirectory() as tmp:
        int8 = quantize(
            Path(tmp), args.calibration_pages, op_types, args.calibration, args.method
        )
        if args.save:
            shutil.copyfile(int8 / "inference.onnx", args.save)
        pages = list(rendered_pages(144, args.pages))
        fp32 = variant_costs(pages, "ocr.textRecognitionPrecision=fp32")
        quant = variant_costs(pages, f"ocr.textRecognitionModelDir={int8}")
    print(
        f"fp32 recogniser: {fp32['s_per_page_1_thread']:.3f} s/page  CER {fp32['cer']}"
    )
    print(
        f"int8 recogniser: {quant['s_per_page_1_thread']:.3f} s/page  "
        f"CER {quant['cer']}"
    )
    emit(
        {
            "bench": "int8_static",
            "pages": args.pages,
            "op_types": op_types or "all",
            "fp32_s_per_page": fp32["s_per_page_1_thread"],
            "int8_s_per_page": quant["s_per_page_1_thread"],
            "fp32_cer": fp32["cer"],
            "int8_cer": quant["cer"],
            "speedup": round(
                fp32["s_per_page_1_thread"] / quant["s_per_page_1_thread"], 3
            ),
        }
    )


if __name__ == "__main__":
    main()
