"""Text-line orientation: how the recogniser scores upright and upside-down
lines, and what ``ocr.textlineOrientationBelowScore`` classifies and misses.

Every text line that PP-OCRv5's detector finds on the pages of the real PDFs
in tests/data (rendered at 100, 144 and 200 dpi), cut out as PaddleOCR cuts
it, is read by ocrbeam's recogniser upright and turned by 180 degrees, and
classified both ways, one line at a time, by the bundled text-line
orientation model.  Prints the score percentiles of both, then for each
threshold the share of upright lines the gate would classify and the
upside-down lines it would let through unclassified; ends with one JSON line.

    python bench/line_orientation.py
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import emit, paddleocr_module, rendered_pages  # noqa: E402

os.environ.setdefault("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", "True")

#: Pages per resolution: every page of the four PDFs once.
PAGES = 9


def read_lines(dpis: list[int]) -> list[dict]:
    import numpy as np
    from ocrbeam.transforms.config import load_config
    from paddlex.inference.pipelines.components import CropByPolys

    from ocrbeam.engines.paddlex_patches import lean_recognizer, narrow_recognizer
    from ocrbeam.engines.ppocrv5 import EngineSettings

    cfg = load_config(None, ["ocr.isolate=false"]).ocr
    kwargs = EngineSettings.from_config(cfg, threads=1).pipeline_kwargs
    det = paddleocr_module("text_detection", kwargs)
    rec = paddleocr_module("text_recognition", kwargs)
    narrow_recognizer(rec.paddlex_predictor, cfg.text_recognition_width_scale)
    lean_recognizer(rec.paddlex_predictor)
    cls = paddleocr_module("textline_orientation", kwargs)
    crop = CropByPolys(det_box_type="quad")
    rows = []
    for dpi in dpis:
        for _name, _index, image, _text in rendered_pages(dpi, PAGES):
            bgr = np.ascontiguousarray(np.asarray(image)[:, :, ::-1])
            polys = det.predict(
                bgr,
                limit_side_len=cfg.text_det_limit_side_len,
                limit_type=cfg.text_det_limit_type,
            )[0]["dt_polys"]
            for line in crop(bgr, np.array(polys)) if len(polys) else []:
                turned = np.ascontiguousarray(line[::-1, ::-1])
                up, down = (rec.predict(x, batch_size=1)[0] for x in (line, turned))
                angle_up, angle_down = (
                    int(
                        np.asarray(
                            cls.predict(x, batch_size=1)[0]["class_ids"]
                        ).ravel()[0]
                    )
                    for x in (line, turned)
                )
                rows.append(
                    {
                        "dpi": dpi,
                        "upright": (up["rec_text"], float(up["rec_score"])),
                        "turned": (down["rec_text"], float(down["rec_score"])),
                        "classified_upright": angle_up,
                        "classified_turned": angle_down,
                    }
                )
    return rows


def gate_table(rows: list[dict], thresholds: list[float], short: int) -> list[dict]:
    """For each threshold: the share of upright lines the gate classifies, and
    the upside-down lines it reports upright without classifying them."""

    def doubtful(read) -> bool:
        return read[1] < threshold or len(read[0]) <= short

    table = []
    for threshold in thresholds:
        table.append(
            {
                "below_score": threshold,
                "upright_classified": round(
                    sum(doubtful(r["upright"]) for r in rows) / len(rows), 3
                ),
                "turned_missed": sum(not doubtful(r["turned"]) for r in rows),
            }
        )
    return table


def main() -> None:
    import numpy as np

    from ocrbeam.engines.paddlex_patches import GATE_SHORT_LINE_CHARS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dpi", type=int, action="append", default=[])
    args = parser.parse_args()
    rows = read_lines(args.dpi or [100, 144, 200])
    up = np.array([r["upright"][1] for r in rows])
    down = np.array([r["turned"][1] for r in rows])
    longer = [
        r["turned"][1] for r in rows if len(r["turned"][0]) > GATE_SHORT_LINE_CHARS
    ]
    table = gate_table(rows, [0.8, 0.9, 0.95, 0.97], GATE_SHORT_LINE_CHARS)
    wrong_up = sum(r["classified_upright"] != 0 for r in rows)
    wrong_down = sum(r["classified_turned"] != 1 for r in rows)
    print(f"{len(rows)} text lines")
    for q in (1, 5, 10, 50):
        print(
            f"upright score, {q:>2}th percentile: {np.percentile(up, q):.3f}   "
            f"turned, {100 - q}th: {np.percentile(down, 100 - q):.3f}"
        )
    print(
        f"highest score of a turned line: {down.max():.3f}; of one read as more "
        f"than {GATE_SHORT_LINE_CHARS} characters: {max(longer):.3f}"
    )
    print(
        f"the classifier itself, one line at a time: {wrong_up} upright lines "
        f"taken for upside down, {wrong_down} upside-down lines taken for upright"
    )
    print(f"gate (score below T, or {GATE_SHORT_LINE_CHARS} characters or fewer):")
    for row in table:
        print(
            f"  T={row['below_score']}: classifies {row['upright_classified']:.1%} "
            f"of upright lines; lets {row['turned_missed']} turned lines through"
        )
    emit(
        {
            "bench": "line_orientation",
            "lines": len(rows),
            "upright_score_percentiles": {
                q: round(float(np.percentile(up, q)), 3) for q in (1, 5, 10, 50)
            },
            "turned_score_max": round(float(down.max()), 3),
            "turned_score_max_longer": round(float(max(longer)), 3),
            "classifier_wrong": {"upright": wrong_up, "turned": wrong_down},
            "gate": table,
        }
    )


if __name__ == "__main__":
    main()
