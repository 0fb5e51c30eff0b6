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
  accuracy shows side by side;
* ``ocrbeam_full_width``: ocrbeam's defaults but text lines read at their
  full width (``ocr.textRecognitionWidthScale=1.0``), so what narrowing them
  costs shows too;
* any ``--variant NAME=KEY=VALUE[,KEY=VALUE...]``: ocrbeam's defaults with
  those overrides (for example ``--variant w065=ocr.textRecognitionWidthScale=0.65``).

Scores per page and overall: character error rate (order-sensitive) and word
F1 (order-free).  When the order is right, CER is close to what word F1
implies; a regression in order or recognition shows as a gap or a drop.

    python bench/evaluate.py            # the whole set
    python bench/evaluate.py --json     # only the closing JSON line
    python bench/evaluate.py --variant w06=ocr.textRecognitionWidthScale=0.6
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


def _variant(text: str) -> tuple[str, list[str]]:
    name, _, overrides = text.partition("=")
    if not overrides:
        raise argparse.ArgumentTypeError(f"expected NAME=KEY=VALUE[,...]: {text!r}")
    return name, overrides.split(",")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dpi", type=int, default=144)
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    parser.add_argument(
        "--variant",
        type=_variant,
        action="append",
        default=[],
        help="NAME=KEY=VALUE[,KEY=VALUE...]: one more system, ocrbeam's defaults "
        "with these config overrides (repeatable)",
    )
    args = parser.parse_args()

    from ocrbeam.transforms.config import load_config
    from ocrbeam.transforms.handlers import PPOCRv5ModelHandler
    from ocrbeam.transforms.records import PageImage

    items = evaluation_set(args.dpi)
    variants = [
        ("ocrbeam", []),
        # ocrbeam's defaults but the original float recogniser: what int8 costs.
        ("ocrbeam_fp32", ["ocr.textRecognitionPrecision=fp32"]),
        # ... and lines read at full width: what narrowing them costs.
        ("ocrbeam_full_width", ["ocr.textRecognitionWidthScale=1.0"]),
        *args.variant,
    ]
    systems = {}
    for name, overrides in variants:
        handler = PPOCRv5ModelHandler(
            load_config(None, ["ocr.isolate=false", *overrides]).ocr, "eval"
        )
        systems[name] = (handler, handler.load_model())
    # The baseline: PaddleOCR's defaults, no orientation step of any kind.
    plain = load_config(
        None,
        [
            "ocr.isolate=false",
            "ocr.useDocOrientationClassify=false",
            "ocr.useTextlineOrientation=false",
            "ocr.textRecognitionPrecision=fp32",
            "ocr.textRecognitionWidthScale=1.0",
        ],
    )
    base = PPOCRv5ModelHandler(plain.ocr, "eval")
    raw = base.create_server()
    names = ["engine", *systems]
    seconds = dict.fromkeys(names, 0.0)
    rows = []
    with Timer() as timer:
        for item in items:
            with Timer() as t:
                out = raw.ocr(item["png"])
            seconds["engine"] += t.seconds
            row = {
                "page": item["name"],
                "kind": item["kind"],
                "engine": _score(
                    item["truth"], "\n".join(out.result.get("rec_texts", []))
                ),
            }
            page = PageImage("e", item["name"], 0, 1, *item["size"], item["png"])
            for name, (handler, model) in systems.items():
                with Timer() as t:
                    [result] = handler.run_inference([page], model)
                seconds[name] += t.seconds
                row[name] = _score(item["truth"], result.text)
                if name == "ocrbeam":
                    row["angle_detected"] = result.orientation_deg
            rows.append(row)
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
            for system in names
        }
        groups[kind]["pages"] = len(chosen)
    s_per_page = {name: round(seconds[name] / len(items), 3) for name in names}
    if not args.json:
        print(f"{'page':<32} {'kind':<14} " + " ".join(f"{n[:18]:>18}" for n in names))
        for r in rows:
            print(
                f"{r['page']:<32} {r['kind']:<14} "
                + " ".join(f"{r[n]['cer']:>18.4f}" for n in names)
            )
        print("\nmean CER / word F1 per group, and seconds per page (one thread)")
        print(f"{'group':<14} {'pages':>5} " + " ".join(f"{n[:18]:>18}" for n in names))
        for kind, g in groups.items():
            cells = [f"{g[n]['cer']:.4f} / {g[n]['word_f1']:.3f}" for n in names]
            print(f"{kind:<14} {g['pages']:>5} " + " ".join(f"{c:>18}" for c in cells))
        print(f"{'s/page':<20} " + " ".join(f"{s_per_page[n]:>18.2f}" for n in names))
        print(f"({len(items)} pages x {len(names)} systems in {timer.seconds:.0f} s)")
    emit(
        {
            "bench": "evaluate",
            "dpi": args.dpi,
            "systems": {name: overrides for name, overrides in variants},
            "groups": groups,
            "s_per_page": s_per_page,
            "pages": rows,
        }
    )


if __name__ == "__main__":
    main()
