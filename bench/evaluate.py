"""Evaluate OCR output quality on real documents whose text is known.

The set: the born-digital PDFs in tests/data (single and two-column pages),
rendered to images, with each page's own text layer (pypdfium2) as the truth,
plus each document's first page rotated by 90, 180 and 270 degrees (group
``all``: these 21 pages), and each document's first page again with every
third text line turned upside down in place (group ``flipped-lines``, 4 pages,
not in ``all``: it tests the text-line orientation step).

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
* ``ocrbeam_every_line``: ocrbeam's defaults but every line classified 0/180
  before it is read, as PaddleOCR does (``ocr.textlineOrientationBelowScore=
  null``), so what classifying only badly read lines costs shows too;
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
    """``[{"name", "kind", "png", "size", "truth"}]`` from the real PDFs."""
    import pypdfium2 as pdfium

    items = []
    for name in PDFS:
        pdf = pdfium.PdfDocument(str(DATA / name))
        for index in range(len(pdf)):
            page = pdf[index]
            image = page.render(scale=dpi / 72).to_pil().convert("RGB")
            truth = page.get_textpage().get_text_range()
            kind = "multi-column" if name == "multicolumn.pdf" else "single-column"
            versions = [("", kind, image)]
            if index == 0:
                versions += [
                    (f"@{a}", "rotated", image.rotate(a, expand=True))
                    for a in (90, 180, 270)
                ]
                flipped = _flip_every_third_line(image, page, dpi / 72)
                versions.append(("@flipped-lines", "flipped-lines", flipped))
            for suffix, kind_of, version in versions:
                buf = io.BytesIO()
                version.save(buf, format="PNG", compress_level=1)
                items.append(
                    {
                        "name": f"{Path(name).stem}#p{index}{suffix}",
                        "kind": kind_of,
                        "png": buf.getvalue(),
                        "size": version.size,
                        "truth": truth,
                    }
                )
    return items


def _line_boxes(page) -> list[tuple[float, float, float, float]]:
    """The page's text lines as (left, top, right, bottom) in PDF points from
    the top: pdfium's text rectangles (runs, or single characters in some
    PDFs) grouped by their vertical centre, then split where a line's pieces
    are more than 12 points apart (columns)."""
    textpage = page.get_textpage()
    height = page.get_height()
    rects = []
    for i in range(textpage.count_rects()):
        left, bottom, right, top = textpage.get_rect(i)
        rects.append((left, height - top, right, height - bottom))
    rects.sort(key=lambda r: (r[1] + r[3]) / 2)
    rows: list[list[tuple]] = []
    for rect in rects:
        centre = (rect[1] + rect[3]) / 2
        if rows:
            first = rows[-1][0]
            if abs(centre - (first[1] + first[3]) / 2) < 0.5 * (first[3] - first[1]):
                rows[-1].append(rect)
                continue
        rows.append([rect])
    lines = []
    for row in rows:
        row.sort()
        piece = list(row[0])
        for left, top, right, bottom in row[1:]:
            if left - piece[2] > 12:
                lines.append(tuple(piece))
                piece = [left, top, right, bottom]
            else:
                piece = [
                    piece[0],
                    min(piece[1], top),
                    max(piece[2], right),
                    max(piece[3], bottom),
                ]
        lines.append(tuple(piece))
    return lines


def _flip_every_third_line(image, page, scale: float):
    """``image`` with every third text line turned by 180 degrees where it
    stands (the truth, the text layer, is unchanged)."""
    out = image.copy()
    for left, top, right, bottom in _line_boxes(page)[1::3]:
        box = (
            int(left * scale) - 2,
            int(top * scale) - 2,
            int(right * scale) + 3,
            int(bottom * scale) + 3,
        )
        out.paste(image.crop(box).rotate(180), box[:2])
    return out


def _score(truth: str, text: str) -> dict:
    from ocrbeam.text.quality import cer, word_f1

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

    from ocrbeam.engines.ppocrv5 import EngineServer, EngineSettings

    items = evaluation_set(args.dpi)
    variants = [
        ("ocrbeam", []),
        # ocrbeam's defaults but the original float recogniser: what int8 costs.
        ("ocrbeam_fp32", ["ocr.textRecognitionPrecision=fp32"]),
        # ... and lines read at full width: what narrowing them costs.
        ("ocrbeam_full_width", ["ocr.textRecognitionWidthScale=1.0"]),
        # ... and every line classified 0/180 first: what the gate costs.
        ("ocrbeam_every_line", ["ocr.textlineOrientationBelowScore=null"]),
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
    raw = EngineServer(EngineSettings.from_config(plain.ocr, threads=1))
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
    for kind in ("single-column", "multi-column", "rotated", "all", "flipped-lines"):
        chosen = [
            r
            for r in rows
            if r["kind"] == kind or (kind == "all" and r["kind"] != "flipped-lines")
        ]
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
