"""Accounting and idempotent reruns, through the ``ocrbeam run`` command."""

import json
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from docs import DATA, SENTENCES, encode, huge_bilevel_png, pdf_of_pages, text_image
from ocrbeam.cli import main
from ocrbeam.output import accounting

pytestmark = [pytest.mark.model, pytest.mark.pipeline]


@pytest.fixture
def lake(tmp_path):
    """A mixed folder: good PDFs and images, and every kind of bad file."""
    folder = tmp_path / "lake"
    folder.mkdir()
    (folder / "a-two-pages.pdf").write_bytes(
        pdf_of_pages([SENTENCES[:2], SENTENCES[2:4]])
    )
    (folder / "b-scan.png").write_bytes(encode(text_image(SENTENCES[4:6])))
    (folder / "c-four-pages.pdf").write_bytes(
        (DATA / "pdflatex-4-pages.pdf").read_bytes()
    )
    shutil.copy(DATA / "libreoffice-writer-password.pdf", folder / "d-locked.pdf")
    good = (DATA / "minimal-document.pdf").read_bytes()
    (folder / "e-truncated.pdf").write_bytes(good[: len(good) // 2])
    (folder / "f-empty.pdf").write_bytes(b"")
    (folder / "g-page.html.pdf").write_bytes(b"<html><body>not a pdf</body></html>")
    (folder / "h-bomb.png").write_bytes(huge_bilevel_png(20_000, 20_000))
    return folder


def _run(lake, out, *extra):
    args = [
        "run",
        "--input",
        str(lake),
        "--output",
        str(out),
        "--no_progress",
        "--set",
        "render.dpi=72",
        "--set",
        "render.maxPages=3",
        *extra,
    ]
    return main(args)


def _rows(out, table):
    return accounting.read_table(
        str(out),
        table,
        ["source_uri", "page_index", "error_type"]
        if table == "errors"
        else ["source_uri", "page_index", "doc_id"],
    )


def _name(row):
    return row["source_uri"].rsplit("/", 1)[1]


def test_every_document_and_page_is_accounted_for_and_reruns_are_idempotent(
    lake, tmp_path, capsys
):
    out = tmp_path / "out"
    assert _run(lake, out) == 0
    summary = json.loads((out / "_SUMMARY.json").read_text())
    assert summary["ok"] is True
    assert summary["documents_in"] == 8
    assert summary["documents_unaccounted"] == 0 and summary["unaccounted"] == []
    assert summary["pages_unaccounted"] == [] and summary["duplicate_pages"] == 0
    # c-four-pages.pdf is cut at maxPages=3: partly done, page 3 reported.
    assert summary["documents_done"] == 2 and summary["documents_partial"] == 1
    assert summary["documents_failed"] == 5
    assert summary["pages_done"] == 6
    assert summary["errors_by_type"] == {
        "empty_file": 1,
        "encrypted_pdf": 1,
        "corrupt_pdf": 1,
        "unsupported_format": 1,
        "page_too_large": 1,
        "page_limit_exceeded": 1,
    }
    printed = capsys.readouterr().err
    assert "documents in" in printed and "error: encrypted_pdf" in printed

    pages = _rows(out, "pages")
    errors = _rows(out, "errors")
    assert sorted((_name(r), r["page_index"]) for r in pages) == [
        ("a-two-pages.pdf", 0),
        ("a-two-pages.pdf", 1),
        ("b-scan.png", 0),
        ("c-four-pages.pdf", 0),
        ("c-four-pages.pdf", 1),
        ("c-four-pages.pdf", 2),
    ]
    assert ("c-four-pages.pdf", 3, "page_limit_exceeded") in {
        (_name(r), r["page_index"], r["error_type"]) for r in errors
    }
    first_files = set(accounting.run_files(str(out), "pages"))
    documents = {
        _name(r): (r["page_count"], r["pages_done"], r["complete"])
        for r in accounting.read_table(
            str(out),
            "documents",
            ["source_uri", "page_count", "pages_done", "complete"],
        )
    }
    assert documents == {
        "a-two-pages.pdf": (2, 2, True),
        "b-scan.png": (1, 1, True),
        "c-four-pages.pdf": (4, 3, False),
    }
    assert len(list((out / "documents" / "markdown").glob("*.md"))) == 3

    # Second run: nothing new is written, no duplicates, failures retried.
    assert _run(lake, out) == 0
    assert set(accounting.run_files(str(out), "pages")) == first_files
    assert sorted(map(str, _rows(out, "pages"))) == sorted(map(str, pages))
    assert sorted(map(str, _rows(out, "errors"))) == sorted(map(str, errors))
    summary2 = json.loads((out / "_SUMMARY.json").read_text())
    assert summary2["ok"] and summary2["pages_done"] == 6
    assert summary2["run_id"] != summary["run_id"]

    # Delete one document's output: only that document is redone.
    for path in first_files:
        table = pq.read_table(path)
        keep = [
            not uri.endswith("a-two-pages.pdf")
            for uri in table["source_uri"].to_pylist()
        ]
        pq.write_table(table.filter(pa.array(keep)), path)
    assert _run(lake, out) == 0
    new_files = set(accounting.run_files(str(out), "pages")) - first_files
    redone = [r for path in new_files for r in pq.read_table(path).to_pylist()]
    assert sorted((_name(r), r["page_index"]) for r in redone) == [
        ("a-two-pages.pdf", 0),
        ("a-two-pages.pdf", 1),
    ]
    summary3 = json.loads((out / "_SUMMARY.json").read_text())
    assert summary3["ok"] and summary3["pages_done"] == 6
    # documents/ is rebuilt from every run's pages: still one row per document.
    rebuilt = accounting.read_table(str(out), "documents", ["source_uri", "complete"])
    assert sorted((_name(r), r["complete"]) for r in rebuilt) == [
        ("a-two-pages.pdf", True),
        ("b-scan.png", True),
        ("c-four-pages.pdf", False),
    ]


def test_another_config_needs_force_and_force_redoes_everything(tmp_path, capsys):
    lake = tmp_path / "lake"
    lake.mkdir()
    (lake / "scan.png").write_bytes(encode(text_image(SENTENCES[:1])))
    out = tmp_path / "out"

    def run(*extra):
        args = ["run", "--input", str(lake), "--output", str(out), "--no_progress"]
        return main([*args, *extra])

    assert run() == 0
    assert run("--set", "ocr.textDetThresh=0.35") == 2
    err = capsys.readouterr().err
    assert "another configuration" in err and "textRecognitionPrecision" not in err
    # Written with the other recogniser (int8, the default before 0.2.0): the
    # refusal says how to continue the output as it was written.
    assert run("--set", "ocr.textRecognitionPrecision=int8") == 2
    assert (
        "add --set ocr.textRecognitionPrecision=fp32 to continue it"
        in capsys.readouterr().err
    )
    assert run("--set", "ocr.textDetThresh=0.35", "--force") == 0
    rows = accounting.read_table(str(out), "pages", ["config_hash", "page_index"])
    assert len(rows) == 1  # the old row was replaced, not duplicated
    # Written with route ocr (the default before structure was): the default
    # run says how to continue it.
    out = tmp_path / "lines-only"
    assert run("--set", "route=ocr") == 0
    assert run() == 2
    assert "add --set route=ocr to continue it" in capsys.readouterr().err
    # Written with route structure (the default of 0.2.0) likewise.
    out = tmp_path / "structure"
    assert run("--set", "route=structure") == 0
    assert run() == 2
    assert "add --set route=structure to continue it" in capsys.readouterr().err
    assert run("--set", "route=structure") == 0
