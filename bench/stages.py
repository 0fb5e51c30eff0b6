"""Cost per stage and per engine setting, with the accuracy each one keeps.

For N pages rendered from the real PDFs in tests/data, in one process with one
intra-op thread (the per-core cost: ocrbeam runs one such process per core):

* render: pypdfium2 page -> PIL -> PNG bytes (what SplitPages does);
* detection and recognition: PaddleOCR's own text detection and recognition
  modules on the same model folders, timed separately (crops cut as the OCR
  pipeline cuts them);
* orientation: the page classifier and the text-line classifier;
* write: Parquet of the page rows;

then the whole engine per configuration (``--set`` lists), with CER against
the pages' text layers, so a speed-up that costs accuracy shows.

    python bench/stages.py --pages 6
    python bench/stages.py --pages 6 \
        --variant "ocr.textDetLimitType=max,ocr.textDetLimitSideLen=1280"
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    emit,
    engine_settings,
    paddleocr_module,
    rendered_pages,
)

os.environ.setdefault("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", "True")

DEFAULT_VARIANTS = [
    "",
    "ocr.useDocOrientationClassify=false,ocr.useTextlineOrientation=false",
    "ocr.textDetLimitType=max,ocr.textDetLimitSideLen=1280",
    "ocr.textDetLimitType=max,ocr.textDetLimitSideLen=960",
    "ocr.textRecognitionBatchSize=6",
]


def _engine(overrides: list[str]):
    from ocrbeam.engines.ppocrv5 import EngineServer

    settings = engine_settings(["ocr.isolate=false", *overrides], threads=1)
    return settings, EngineServer(settings)


def stage_costs(pages) -> dict:
    """Seconds per page of each stage, default configuration."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ocrbeam.engines.images import decode_png
    from ocrbeam.engines.orientation import DocOrientationClassifier
    from ocrbeam.engines.paddlex_patches import narrow_recognizer

    settings, server = _engine([])
    kwargs = settings.pipeline_kwargs
    det = paddleocr_module("text_detection", kwargs)
    rec = paddleocr_module("text_recognition", kwargs)
    narrow_recognizer(rec.paddlex_predictor, settings.rec_width_scale)
    orientation = (
        DocOrientationClassifier(Path(settings.orientation_model), threads=1)
        if settings.orientation_model
        else None
    )
    from paddlex.inference.pipelines.components import CropByPolys

    crop = CropByPolys(det_box_type="quad")
    totals = dict(render=0.0, detection=0.0, recognition=0.0, orientation=0.0)
    lines = 0
    pngs = []
    for _name, _index, image, _text in pages:
        start = time.perf_counter()
        buf = io.BytesIO()
        image.save(buf, format="PNG", compress_level=1)
        pngs.append(buf.getvalue())
        totals["render"] += time.perf_counter() - start
    predict = settings.predict_kwargs
    for png in pngs:
        bgr = decode_png(png)
        start = time.perf_counter()
        if orientation is not None:
            orientation.angle(bgr)
        totals["orientation"] += time.perf_counter() - start
        start = time.perf_counter()
        polys = det.predict(
            bgr,
            limit_side_len=predict["text_det_limit_side_len"],
            limit_type=predict["text_det_limit_type"],
        )[0]["dt_polys"]
        totals["detection"] += time.perf_counter() - start
        crops = crop(bgr, np.array(polys)) if len(polys) else []
        lines += len(crops)
        start = time.perf_counter()
        for c in crops:  # one line at a time: batch size 1, as ocrbeam runs it
            rec.predict(c["img"] if isinstance(c, dict) else c, batch_size=1)
        totals["recognition"] += time.perf_counter() - start
    rows = [server.ocr(png).result for png in pngs[:2]]
    start = time.perf_counter()
    table = pa.table({"result_json": [str(r) for r in rows] * (len(pngs) // 2 or 1)})
    pq.write_table(table, io.BytesIO())
    totals["write"] = time.perf_counter() - start
    n = len(pngs)
    out = {k: round(v / n, 4) for k, v in totals.items()}
    out["lines_per_page"] = round(lines / n, 1)
    return out


def variant_costs(pages, variant: str) -> dict:
    from ocrbeam.text.quality import cer

    overrides = [v for v in variant.split(",") if v]
    _settings, server = _engine(overrides)
    pngs, truths = [], []
    for _name, _index, image, text in pages:
        buf = io.BytesIO()
        image.save(buf, format="PNG", compress_level=1)
        pngs.append(buf.getvalue())
        truths.append(text)
    server.ocr(pngs[0])  # warm-up
    from ocrbeam.text.lines import lines_from_result
    from ocrbeam.text.order import reading_order

    start = time.perf_counter()
    outputs = [server.ocr(png) for png in pngs]
    seconds = (time.perf_counter() - start) / len(pngs)
    errors = []
    for out, truth in zip(outputs, truths, strict=True):
        lines = lines_from_result(out.result)
        order = reading_order(lines, out.height)
        errors.append(cer(truth, "\n".join(lines[i].text for i in order)))
    return {
        "variant": variant or "default",
        "s_per_page_1_thread": round(seconds, 3),
        "cer": round(sum(errors) / len(errors), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=6)
    parser.add_argument("--dpi", type=int, default=144)
    parser.add_argument("--variant", action="append", default=None)
    args = parser.parse_args()
    pages = list(rendered_pages(args.dpi, args.pages))
    stages = stage_costs(pages)
    print("seconds per page, one thread:")
    for key, value in stages.items():
        print(f"  {key:<14} {value}")
    results = []
    for variant in args.variant or DEFAULT_VARIANTS:
        r = variant_costs(pages, variant)
        results.append(r)
        print(
            f"{r['variant']:<72} {r['s_per_page_1_thread']:>6.3f} s/page  "
            f"CER {r['cer']:.4f}"
        )
    emit(
        {
            "bench": "stages",
            "pages": len(pages),
            "dpi": args.dpi,
            "stages_s_per_page": stages,
            "variants": results,
        }
    )


if __name__ == "__main__":
    main()
