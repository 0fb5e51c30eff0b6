"""Born-digital PDFs: the default (route auto: a checked text layer read with
the layout and table models) against route structure (every page OCR'd)
and route auto as it was before 0.3.0 (any text layer taken, as lines),
on the same documents in one run.

Sets (``--set``, all by default):

* ``generated``: bench/born_digital_docs.py's reports, two-column papers,
  statements and handbooks, tune and held-out halves, with their truth
  (headings, tables, markdown);
* ``public``: the real born-digital PDFs in tests/data (Google Docs,
  LibreOffice, pdfLaTeX exports); truth: the words of their own text layer
  (no structure truth: heading and table figures are left out);
* ``poor-layer``: the generated documents scanned, with an invisible text
  layer in which a third of the words are misread (truth: the words drawn);
* ``poor-under``: the same layer drawn visibly beneath the page image
  (hidden by it): it passes the split's checks and is compared with OCR;
* ``background``: the generated documents drawn over a page-sized picture
  (their text layer is compared with OCR, and agrees);
* ``scanned``: their scanned twins, to show that the default reads scanned
  pages exactly as route structure does (``identical``: pages whose
  markdown is the same).

Per system, set and split: wall clock, word F1 against the truth markdown,
heading precision / recall / F1, TEDS (bench/structure_metrics.py), markdown
word recall (the words read, found in the markdown) and where the words
came from.  Systems are interleaved document by document; models are loaded
and warmed before the clock starts.

End to end (``--runs K``): K interleaved pairs of ``ocrbeam run``, the
default and ``--set route=structure``, on one folder of the generated and
public born-digital PDFs: wall clock of the whole command (start, model
loads and accounting included) and the median ratio.

    python bench/born_digital.py
    python bench/born_digital.py --set generated --docs
    python bench/born_digital.py --runs 2
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import born_digital_docs as bd  # noqa: E402
from bench.common import DATA, Timer, emit, page_handler, read_document  # noqa: E402
from bench.structure_eval import aggregate, score_document  # noqa: E402

#: name -> (config overrides, text-layer pages to the models?)
SYSTEMS = {
    "auto": ([], None),
    "structure": (["route=structure"], None),
    "old-auto": (["route=auto", "render.textLayer=trust"], False),
}
#: The real born-digital PDFs in tests/data (the encrypted one aside).
PUBLIC = ("google-doc-document.pdf", "minimal-document.pdf", "multicolumn.pdf",
          "pdflatex-4-pages.pdf")  # fmt: skip


def _truth(doc: bd.Document) -> dict:
    return {"truth_md": doc.truth_markdown, "headings": list(doc.headings),
            "tables": list(doc.tables), "blocks": list(doc.blocks)}  # fmt: skip


def documents(sets: list[str]) -> list[dict]:
    """Each document of the sets: name, set, split, kind, pdf and truth."""
    import pypdfium2 as pdfium

    docs = []
    generated = bd.documents() if set(sets) - {"public", "background"} else []
    for doc in generated:
        base = {"name": doc.name, "split": doc.split, "kind": doc.kind, **_truth(doc)}
        if "generated" in sets:
            docs.append({**base, "set": "generated", "pdf": doc.pdf})
        if "poor-layer" in sets:
            docs.append({**base, "set": "poor-layer", "pdf": bd.with_poor_layer(doc)})
        if "poor-under" in sets:
            pdf = bd.with_poor_layer(doc, under=True)
            docs.append({**base, "set": "poor-under", "pdf": pdf})
        if "scanned" in sets:
            docs.append({**base, "set": "scanned", "pdf": bd.scanned(doc)})
    if "background" in sets:
        for doc in bd.documents(background=True):
            base = {"name": doc.name, "split": doc.split, "kind": doc.kind}
            docs.append({**base, "set": "background", "pdf": doc.pdf, **_truth(doc)})
    if "public" in sets:
        for name in PUBLIC:
            data = (DATA / name).read_bytes()
            text = "\n\n".join(
                page.get_textpage().get_text_range()
                for page in pdfium.PdfDocument(data)
            )
            docs.append({"name": name, "set": "public", "split": "held-out",
                         "kind": "public", "pdf": data, "truth_md": text,
                         "headings": [], "tables": [], "blocks": []})  # fmt: skip
    return docs


def end_to_end(runs: int) -> dict:
    """Wall clock of ``ocrbeam run`` with the default and with route
    structure on one folder of born-digital PDFs, ``runs`` interleaved pairs."""
    import statistics
    import subprocess
    import tempfile

    from bench.common import ocrbeam_run_command

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "pdfs"
        folder.mkdir()
        for doc in documents(["generated", "public"]):
            name = doc["name"].removesuffix(".pdf") + ".pdf"
            (folder / name).write_bytes(doc["pdf"])
        files = sorted(folder.glob("*.pdf"))
        pages = sum(_page_count(path) for path in files)
        seconds: dict = {"auto": [], "structure": []}
        for k in range(runs):
            for name, overrides in (("auto", []), ("structure", ["route=structure"])):
                out = Path(tmp) / f"out-{name}-{k}"
                with Timer() as t:
                    subprocess.run(ocrbeam_run_command(folder, out, overrides),
                                   check=True, capture_output=True)  # fmt: skip
                seconds[name].append(round(t.seconds, 2))
        ratios = [a / b for a, b in zip(seconds["auto"], seconds["structure"],
                                        strict=True)]  # fmt: skip
        median = round(statistics.median(ratios), 3)
        return {"pages": pages, "documents": len(files), "seconds": seconds,
                "ratio_median": median}  # fmt: skip


def _page_count(path: Path) -> int:
    import pypdfium2 as pdfium

    return len(pdfium.PdfDocument(str(path)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    choices = ("generated", "public", "poor-layer", "poor-under", "background",
               "scanned")  # fmt: skip
    parser.add_argument("--set", choices=(*choices, "all"), default="all")
    parser.add_argument("--docs", action="store_true", help="per-document scores")
    parser.add_argument("--only", default="", help="comma-separated document names")
    parser.add_argument(
        "--runs", type=int, default=0,
        help="only time K interleaved pairs of `ocrbeam run` (default, route "
        "structure) on the generated and public born-digital PDFs",
    )  # fmt: skip
    args = parser.parse_args()
    if args.runs:
        result = end_to_end(args.runs)
        print(f"ocrbeam run on {result['documents']} born-digital PDFs "
              f"({result['pages']} pages): default {result['seconds']['auto']} s, "
              f"route structure {result['seconds']['structure']} s; median "
              f"ratio {result['ratio_median']}")  # fmt: skip
        emit({"bench": "born_digital_end_to_end", **result})
        return
    sets = list(choices) if args.set == "all" else [args.set]
    docs = documents(sets)
    if args.only:
        docs = [d for d in docs if d["name"] in set(args.only.split(","))]
    handlers = {name: page_handler(over) for name, (over, _) in SYSTEMS.items()}
    warm = bd.scanned(bd.documents(1, only=["handbook"])[0], noise=False)
    for name, (overrides, structure) in SYSTEMS.items():
        read_document(overrides, warm, *handlers[name], structure=structure)
    per_doc, identical = [], [0, 0]
    with Timer() as timer:
        for doc in docs:
            rows = {}
            for name, (overrides, structure) in SYSTEMS.items():
                with Timer() as t:
                    rows[name] = read_document(
                        overrides, doc["pdf"], *handlers[name], structure=structure
                    )
                score = score_document(doc, rows[name])
                sources = [r.text_source or "none" for r in rows[name]]
                score.update(
                    system=name, name=doc["name"], set=doc["set"], split=doc["split"],
                    kind=doc["kind"], pages=len(rows[name]), seconds=t.seconds,
                    text_layer_pages=sources.count("text_layer"),
                )  # fmt: skip
                per_doc.append(score)
            if doc["set"] == "scanned":
                pairs = zip(rows["auto"], rows["structure"], strict=True)
                same = [a.markdown == b.markdown for a, b in pairs]
                identical = [identical[0] + sum(same), identical[1] + len(same)]
            if args.docs:
                for s in per_doc[-len(SYSTEMS) :]:
                    print(f"  {s['system']:<9} {s['set']:<10} {s['name']:<26} "
                          f"{s['seconds']:6.1f}s words {s['truth_words']} headings "
                          f"{s['headings']} lost {s['lost_words'][:5]}")  # fmt: skip
    groups: dict = {}
    for s in per_doc:
        for split in (s["split"], "all"):
            groups.setdefault((s["set"], split, s["system"]), []).append(s)
    print(f"{'set':<11} {'split':<9} {'system':<10} {'pages':>5} {'wall s':>7} "
          f"{'vs str':>6} {'wordF1':>6} {'hP':>5} {'hR':>5} {'hF1':>5} {'TEDS':>5} "
          f"{'mdRec':>6} {'layer':>5}")  # fmt: skip
    figures = {}
    for (set_name, split, system), scores in sorted(groups.items()):
        g = aggregate(scores)
        wall = sum(s["seconds"] for s in scores)
        base = sum(s["seconds"] for s in groups[(set_name, split, "structure")])
        layer = sum(s["text_layer_pages"] for s in scores)
        g.update(wall_s=round(wall, 2), vs_structure=round(wall / base, 3),
                 text_layer_pages=layer)  # fmt: skip
        structure_truth = set_name != "public"
        figures[f"{set_name}/{split}/{system}"] = g

        def cell(key, spec, g=g, known=structure_truth):
            value = g.get(key)
            return f"{'-':>{len(spec.format(0))}}" if value is None or not known \
                else spec.format(value)  # fmt: skip

        print(f"{set_name:<11} {split:<9} {system:<10} {g['pages']:>5} "
              f"{g['wall_s']:>7.1f} {g['vs_structure']:>6.2f} "
              f"{g['truth_word_f1']:>6.3f} {cell('heading_p', '{:>5.2f}')} "
              f"{cell('heading_r', '{:>5.2f}')} {cell('heading_f1', '{:>5.2f}')} "
              f"{cell('teds', '{:>5.2f}')} {g['md_word_recall']:>6.4f} "
              f"{g['text_layer_pages']:>5}")  # fmt: skip
    if identical[1]:
        print(f"scanned twins: the default's markdown equals route structure's on "
              f"{identical[0]} of {identical[1]} pages")  # fmt: skip
    emit({"bench": "born_digital", "groups": figures, "scanned_identical":
          identical, "seconds": round(timer.seconds, 1)})  # fmt: skip


if __name__ == "__main__":
    main()
