"""Evaluate OCR output quality on real documents whose text is known.

The set: the born-digital PDFs in tests/data (single and two-column pages),
rendered to images, with each page's own text layer (pypdfium2) as the truth,
plus each document's first page rotated by 90, 180 and 270 degrees.

Three systems on the same images, in one run:

* ``engine``: PaddleOCR called directly with its defaults (the original fp32
  recogniser, no document or text-line orientation), text = ``rec_texts`` in
  the engine's own order;
* ``ocrbeam``: ocrbeam's handler with its defaults (int8 recogniser, page
  orientation, XY-cut reading order), text = the ``text`` column;
* ``ocrbeam_fp32``: the same with the fp32 recogniser, so what int8 costs in
  accuracy shows side by side.

Scores per page and overall: character error rate (order-sensitive) and word
F1 (order-free).  When the order is right, CER is close to what word F1
implies; a regression in order or recognition shows as a gap or a drop.

    python bench/evaluate.py            # the whole set
    python bench/evaluate.py --json     # only the closing JSON line
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import DATA, PDFS, Timer, emit  # noqa: E402


def evaluation_set(dpi: int) -> list[dict]:
    """``[{"name", "kind", "angle", "png", "truth"}]`` from the real PDFs."""
    import pypdfium2 as pdfium

    items = []
    for name in PDFS:
        pdf = pdfium.PdfDocument(str(DATA / name))
        for index in range(len(pdf)):
            page = pdf[index]
            image = page.render(scale=dpi / 72).to_pil().convert("RGB")
            truth = page.get_textpage().get_text_range()
            kind = "multi-column" if name == "multicolumn.pdf" else "single-column"
            angles = (0, 90, 180, 270) if index == 0 else (0,)
            for angle in angles:
                rotated = image.rotate(angle, expand=True) if angle else image
                buf = io.BytesIO()
                rotated.save(buf, format="PNG", compress_level=1)
                items.append(
                    {
                        "name": f"{Path(name).stem}#p{index}"
                        + (f"@{angle}" if angle else ""),
                        "kind": "rotated" if angle else kind,
                        "angle": angle,
                        "png": buf.getvalue(),
                        "size": rotated.size,
                        "truth": truth,
                    }
                )
    return items


def _score(truth: str, text: str) -> dict:
    from ocrbeam.transforms.quality import cer, word_f1

    return {
        "cer": round(cer(truth, text), 4),
        "word_f1": round(word_f1(truth, text), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dpi", type=int, default=144)
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args()

    from ocrbeam.transforms.config import load_config
    from ocrbeam.transforms.handlers import EngineServer, PPOCRv5ModelHandler
    from ocrbeam.transforms.records import PageImage

    items = evaluation_set(args.dpi)
    cfg = load_config(None, ["ocr.isolate=false"])
    handler = PPOCRv5ModelHandler(cfg.ocr, "eval")
    ours = handler.load_model()
    # ocrbeam's defaults but the original float recogniser: what int8 costs.
    fp32_cfg = load_config(
        None, ["ocr.isolate=false", "ocr.textRecognitionPrecision=fp32"]
    )
    fp32_handler = PPOCRv5ModelHandler(fp32_cfg.ocr, "eval")
    fp32_model = fp32_handler.load_model()
    # The baseline: PaddleOCR's defaults, no orientation step of any kind.
    plain = load_config(
        None,
        [
            "ocr.isolate=false",
            "ocr.useDocOrientationClassify=false",
            "ocr.useTextlineOrientation=false",
            "ocr.textRecognitionPrecision=fp32",
        ],
    )
    base = PPOCRv5ModelHandler(plain.ocr, "eval")
    raw = EngineServer(base.pipeline_kwargs(), base.predict_kwargs())
    rows = []
    with Timer() as timer:
        for item in items:
            out = raw.ocr(item["png"])
            engine_text = "\n".join(out.result.get("rec_texts", []))
            page = PageImage("e", item["name"], 0, 1, *item["size"], item["png"])
            [result] = handler.run_inference([page], ours)
            [result32] = fp32_handler.run_inference([page], fp32_model)
            rows.append(
                {
                    "page": item["name"],
                    "kind": item["kind"],
                    "engine": _score(item["truth"], engine_text),
                    "ocrbeam": _score(item["truth"], result.text),
                    "ocrbeam_fp32": _score(item["truth"], result32.text),
                    "angle_detected": result.orientation_deg,
                }
            )
    groups: dict[str, dict] = {}
    for kind in ("single-column", "multi-column", "rotated", "all"):
        chosen = [r for r in rows if kind == "all" or r["kind"] == kind]
        if not chosen:
            continue
        groups[kind] = {
            system: {
                metric: round(sum(r[system][metric] for r in chosen) / len(chosen), 4)
                for metric in ("cer", "word_f1")
            }
            for system in ("engine", "ocrbeam", "ocrbeam_fp32")
        }
        groups[kind]["pages"] = len(chosen)
    if not args.json:
        print(
            f"{'page':<32} {'kind':<14} {'engine CER':>10} {'F1':>6}  "
            f"{'ocrbeam CER':>11} {'F1':>6}  angle"
        )
        for r in rows:
            print(
                f"{r['page']:<32} {r['kind']:<14} {r['engine']['cer']:>10.3f} "
                f"{r['engine']['word_f1']:>6.3f}  {r['ocrbeam']['cer']:>11.3f} "
                f"{r['ocrbeam']['word_f1']:>6.3f}  {r['angle_detected']}"
            )
        print()
        for kind, g in groups.items():
            e, o, f = g["engine"], g["ocrbeam"], g["ocrbeam_fp32"]
            print(
                f"{kind:<14} pages {g['pages']:>2}  engine CER {e['cer']:.4f} "
                f"F1 {e['word_f1']:.3f}  |  ocrbeam CER {o['cer']:.4f} "
                f"F1 {o['word_f1']:.3f}  |  ocrbeam fp32 rec CER {f['cer']:.4f} "
                f"F1 {f['word_f1']:.3f}"
            )
        print(f"({len(items)} pages x 3 systems in {timer.seconds:.0f} s)")
    emit({"bench": "evaluate", "dpi": args.dpi, "groups": groups, "pages": rows})


if __name__ == "__main__":
    main()
