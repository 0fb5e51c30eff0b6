"""Evaluate document structure on documents whose structure is known:
headings, tables, reading order and the words the markdown keeps.

Two sets (``--set``, both by default), each split into the part structure
was developed on (``tune``) and a part nothing was tuned on (``held-out``),
reported separately; the held-out figures are the ones that count:

* ``dev``: the 14 scanned documents of ``tests/data/structure-dev``
  (docling's test documents: word-processor reports and tables, HTML pages,
  a slide; truth from their source structure; see its README).  Held out:
  unit_test_headers_numbered, tablecell, table_04 and
  html_nested_block_in_list_item.
* ``generated``: documents made by bench/structure_docs.py with their truth:
  reports with heading levels shown by size and weight, ruled / unruled /
  zebra tables with spans and lists in cells, spreadsheet exports, 16:9
  slides, forms, brochures, multi-column pages, figures with words.  The
  held-out documents use other type faces, other words and other seeds.

Systems on the same pages, in one run: ``structure`` (ocrbeam's
route structure, the default) and ``ocr`` (route ocr: paragraphs and
size-based headings only), plus any ``--variant NAME=KEY=VALUE,...``.

Per document kind and split: heading precision / recall / F1 and level
accuracy, table detection precision / recall, TEDS and TEDS-S (mean over the
true tables, 0 for one not found), reading order of blocks, markdown word
recall (the words of ``text``, page furniture aside, found in the markdown),
markdown word F1 against the true markdown, seconds per page
(bench/structure_metrics.py defines each).

    python bench/structure_eval.py                   # both sets
    python bench/structure_eval.py --set dev --docs  # per document too
    python bench/structure_eval.py --json            # only the JSON line
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import structure_metrics as sm  # noqa: E402
from bench.common import DATA, Timer, emit, page_handler  # noqa: E402

DEV = DATA / "structure-dev"
#: structure-dev documents kept out of tuning.
DEV_HELD_OUT = {
    "unit_test_headers_numbered",
    "tablecell",
    "table_04",
    "html_nested_block_in_list_item",
}
#: structure-dev's kinds (its README).
DEV_KINDS = {
    "unit_test_headers": "word-report",
    "unit_test_headers_numbered": "word-report",
    "word_sample": "word-report",
    "docx_checkboxes": "word-report",
    "word_tables": "word-tables",
    "tablecell": "word-tables",
    "example_01": "html",
    "example_04": "html",
    "html_nested_block_in_list_item": "html",
    "html_inline_group_in_table_cell": "html",
    "table_03": "html",
    "table_04": "html",
    "unit_test_01": "html",
    "powerpoint_issue_2663": "slide",
}


def docling_tables(doc: dict) -> list[str]:
    out = []
    for table in doc.get("tables", []):
        data = table["data"]
        cells = [
            {
                "row": c["start_row_offset_idx"],
                "col": c["start_col_offset_idx"],
                "rowspan": c["end_row_offset_idx"] - c["start_row_offset_idx"],
                "colspan": c["end_col_offset_idx"] - c["start_col_offset_idx"],
                "text": c["text"],
            }
            for c in data["table_cells"]
        ]
        out.append(sm.cells_html(cells, data["num_rows"]))
    return out


def _md_blocks(markdown: str) -> list[str]:
    """The true markdown's blocks in order (list items one by one), tables
    and pictures aside."""
    blocks = []
    for part in markdown.split("\n\n"):
        part = part.strip()
        if not part or part.startswith(("|", "<!--")):
            continue
        if re.match(r"^(?:[-*]|\d+\.)\s", part):
            blocks.extend(line for line in part.splitlines() if line.strip())
        else:
            blocks.append(part)
    return blocks


def dev_documents(dpi: int) -> list[dict]:
    """structure-dev's documents, rendered as ocrbeam renders PDF pages."""
    import pypdfium2 as pdfium

    docs = []
    for pdf_path in sorted(DEV.glob("scan_*.pdf")):
        name = pdf_path.stem.removeprefix("scan_")
        truth_md = (DEV / "truth" / f"{name}.md").read_text()
        doc = json.loads((DEV / "truth" / f"{name}.json").read_text())
        pages = []
        pdf = pdfium.PdfDocument(str(pdf_path))
        for page in pdf:
            image = page.render(scale=dpi / 72).to_pil().convert("RGB")
            buf = io.BytesIO()
            image.save(buf, format="PNG", compress_level=1)
            pages.append((buf.getvalue(), image.size))
        docs.append(
            {
                "name": name,
                "set": "dev",
                "kind": DEV_KINDS[name],
                "split": "held-out" if name in DEV_HELD_OUT else "tune",
                "pages": pages,
                "truth_md": truth_md,
                "headings": sm.headings(truth_md),
                "tables": docling_tables(doc),
                "blocks": _md_blocks(truth_md),
            }
        )
    return docs


def generated_documents() -> list[dict]:
    """bench/structure_docs.py's documents in this script's shape."""
    from bench.structure_docs import documents

    docs = []
    for d in documents():
        docs.append(
            {
                "name": d.name,
                "set": "generated",
                "kind": d.kind,
                "split": d.split,
                "pages": [(png, size) for png, size in d.pages],
                "truth_md": d.truth_markdown,
                "headings": list(d.headings),
                "tables": list(d.tables),
                "blocks": list(d.blocks),
            }
        )
    return docs


def _variant(text: str) -> tuple[str, list[str]]:
    name, _, overrides = text.partition("=")
    if not overrides:
        raise argparse.ArgumentTypeError(f"expected NAME=KEY=VALUE[,...]: {text!r}")
    return name, overrides.split(",")


def score_document(doc: dict, rows: list) -> dict:
    """Scores of one document's page rows (in page order) against its truth."""
    markdown = "\n\n".join(r.markdown for r in rows)
    kept = total = 0
    lost: list[str] = []
    for r in rows:
        result = json.loads(r.result_json)
        blocks = result.get("parsing_res_list") or []
        read = "\n".join(result.get("rec_texts") or []) or r.text
        k, t, gone = sm.markdown_word_recall(read, r.markdown, blocks)
        kept, total, lost = kept + k, total + t, lost + gone
    common, in_truth, in_found = sm.word_counts(doc["truth_md"], markdown)
    concordant, pairs = sm.order_score(doc["blocks"], markdown)
    return {
        "headings": sm.heading_scores(doc["headings"], sm.headings(markdown)),
        "tables": sm.table_scores(doc["tables"], sm.tables(markdown)),
        "order": [concordant, pairs],
        "md_words": [kept, total],
        "lost_words": lost[:30],
        "truth_words": [common, in_truth, in_found],
    }


def _ratio(a: float, b: float) -> float:
    return round(a / b, 4) if b else 1.0


def aggregate(scores: list[dict]) -> dict:
    """Figures of a group of documents (counts summed, then divided)."""
    h = {
        k: sum(s["headings"][k] for s in scores)
        for k in ("true", "found", "matched", "level_ok")
    }
    t = {k: sum(s["tables"][k] for s in scores) for k in ("true", "found", "matched")}
    per_table = [p for s in scores for p in s["tables"]["per_table"]]
    precision = _ratio(h["matched"], h["found"])
    recall = _ratio(h["matched"], h["true"])
    common = sum(s["truth_words"][0] for s in scores)
    in_truth = sum(s["truth_words"][1] for s in scores)
    in_found = sum(s["truth_words"][2] for s in scores)
    wp, wr = _ratio(common, in_found), _ratio(common, in_truth)
    return {
        "docs": len(scores),
        "pages": sum(s["pages"] for s in scores),
        "heading_p": precision,
        "heading_r": recall,
        "heading_f1": round(2 * precision * recall / (precision + recall), 4)
        if precision + recall
        else 0.0,
        "heading_level": _ratio(h["level_ok"], h["matched"]),
        "headings": h["true"],
        "table_p": _ratio(t["matched"], t["found"]),
        "table_r": _ratio(t["matched"], t["true"]),
        "tables": t["true"],
        "teds": round(sum(p["teds"] for p in per_table) / len(per_table), 4)
        if per_table
        else None,
        "teds_s": round(sum(p["teds_s"] for p in per_table) / len(per_table), 4)
        if per_table
        else None,
        "order": _ratio(
            sum(s["order"][0] for s in scores), sum(s["order"][1] for s in scores)
        ),
        "md_word_recall": _ratio(
            sum(s["md_words"][0] for s in scores), sum(s["md_words"][1] for s in scores)
        ),
        "truth_word_f1": round(2 * wp * wr / (wp + wr), 4) if wp + wr else 0.0,
        "s_per_page": round(
            sum(s["seconds"] for s in scores) / max(1, sum(s["pages"] for s in scores)),
            3,
        ),
    }


COLUMNS = (
    ("docs", "docs", "{:>4}"),
    ("pages", "pgs", "{:>4}"),
    ("heading_p", "hP", "{:>5.2f}"),
    ("heading_r", "hR", "{:>5.2f}"),
    ("heading_f1", "hF1", "{:>5.2f}"),
    ("heading_level", "lvl", "{:>5.2f}"),
    ("table_p", "tP", "{:>5.2f}"),
    ("table_r", "tR", "{:>5.2f}"),
    ("teds", "TEDS", "{:>5.2f}"),
    ("teds_s", "TEDS-S", "{:>6.2f}"),
    ("order", "order", "{:>5.2f}"),
    ("md_word_recall", "mdRec", "{:>6.4f}"),
    ("truth_word_f1", "wF1", "{:>5.3f}"),
    ("s_per_page", "s/pg", "{:>5.2f}"),
)


def _fmt(value, spec: str) -> str:
    if value is None:
        return f"{'-':>{len(spec.format(0))}}"
    return spec.format(value)


def _print_groups(groups: dict) -> None:
    head = " ".join(f"{label:>{len(spec.format(0))}}" for _, label, spec in COLUMNS)
    print(f"{'system':<12} {'set':<10} {'split':<9} {'kind':<16} {head}")
    for (system, set_name, split, kind), g in groups.items():
        cells = " ".join(_fmt(g[key], spec) for key, _, spec in COLUMNS)
        print(f"{system:<12} {set_name:<10} {split:<9} {kind:<16} {cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=("dev", "generated", "all"), default="all")
    parser.add_argument(
        "--dpi", type=int, default=150, help="render dpi (ocrbeam's default)"
    )
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    parser.add_argument("--docs", action="store_true", help="print per-document scores")
    parser.add_argument(
        "--systems", default="structure,ocr", help="built-in systems: structure, ocr"
    )
    parser.add_argument("--only", default="", help="comma-separated document names")
    parser.add_argument(
        "--variant", type=_variant, action="append", default=[],
        help="NAME=KEY=VALUE[,KEY=VALUE...]: ocrbeam's defaults with these overrides",
    )  # fmt: skip
    args = parser.parse_args()

    from ocrbeam.transforms.records import PageImage

    docs = []
    if args.set in ("dev", "all"):
        docs += dev_documents(args.dpi)
    if args.set in ("generated", "all"):
        docs += generated_documents()
    if args.only:
        wanted = set(args.only.split(","))
        docs = [d for d in docs if d["name"] in wanted]
    builtin = {"structure": ["route=structure"], "ocr": ["route=ocr"]}
    systems_wanted = [s for s in args.systems.split(",") if s]
    variants = [(s, builtin[s]) for s in systems_wanted] + args.variant
    systems = {name: page_handler(overrides) for name, overrides in variants}
    per_doc: list[dict] = []
    with Timer() as timer:
        for doc in docs:
            results = {name: [] for name in systems}
            seconds = {name: 0.0 for name in systems}
            for index, (image, size) in enumerate(doc["pages"]):
                page = PageImage(
                    "e", doc["name"], index, len(doc["pages"]), *size, image
                )
                # Systems interleaved page by page: drift falls on all alike.
                for name, (handler, model) in systems.items():
                    with Timer() as t:
                        [result] = handler.run_inference([page], model)
                    seconds[name] += t.seconds
                    results[name].append(getattr(result, "row", result))
            for name in systems:
                score = score_document(doc, results[name])
                score.update(
                    system=name, name=doc["name"], set=doc["set"], kind=doc["kind"],
                    split=doc["split"], pages=len(doc["pages"]), seconds=seconds[name],
                )  # fmt: skip
                per_doc.append(score)
    groups: dict = {}
    keys = sorted(
        {(s["system"], s["set"], s["split"], s["kind"]) for s in per_doc},
        key=lambda k: (list(systems).index(k[0]), k[1], k[2] != "held-out", k[3]),
    )
    for system, set_name, split, kind in keys:
        key = (system, set_name, split, kind)
        chosen = [
            s for s in per_doc
            if (s["system"], s["set"], s["split"], s["kind"]) == key
        ]  # fmt: skip
        groups[system, set_name, split, kind] = aggregate(chosen)
    for system in systems:
        for set_name in sorted({s["set"] for s in per_doc}):
            for split in ("held-out", "tune"):
                chosen = [
                    s for s in per_doc
                    if (s["system"], s["set"], s["split"]) == (system, set_name, split)
                ]  # fmt: skip
                if chosen:
                    groups[system, set_name, split, "ALL"] = aggregate(chosen)
            chosen = [
                s for s in per_doc if (s["system"], s["set"]) == (system, set_name)
            ]
            groups[system, set_name, "both", "ALL"] = aggregate(chosen)
    if not args.json:
        if args.docs:
            for s in per_doc:
                g = aggregate([s])
                cells = " ".join(_fmt(g[key], spec) for key, _, spec in COLUMNS)
                print(f"{s['system']:<12} {s['name'][:36]:<36} {cells}")
                if s["headings"]["missed"] or s["headings"]["spurious"]:
                    print(f"    headings missed {s['headings']['missed']}")
                    print(f"    headings spurious {s['headings']['spurious']}")
                if s["lost_words"]:
                    print(f"    lost words {s['lost_words']}")
            print()
        _print_groups(groups)
        print(
            f"({len(docs)} documents x {len(systems)} systems in {timer.seconds:.0f} s)"
        )
    emit(
        {
            "bench": "structure_eval",
            "sets": sorted({d["set"] for d in docs}),
            "dpi": args.dpi,
            "systems": dict(variants),
            "groups": [
                {"system": k[0], "set": k[1], "split": k[2], "kind": k[3], **g}
                for k, g in groups.items()
            ],
            "documents": per_doc,
        }
    )


if __name__ == "__main__":
    main()
