"""Scale: one folder of 10,000 small files, a 2,000-page PDF, a multi-frame
TIFF with a corrupt frame, through the whole run: every document and page
accounted for exactly, and a rerun doubles nothing.  (Time and peak memory:
``python bench/scale.py``.)"""

from __future__ import annotations

import pyarrow.dataset as ds
import pytest
from ocrbeam.pipelines.batch import run

from docs import SENTENCES, long_pdf, small_files, tiff_with_a_bad_frame

pytestmark = [pytest.mark.scale, pytest.mark.model, pytest.mark.pipeline]


def _rows(out, table: str) -> list[dict]:
    files = [str(p) for p in (out / table).glob("*.parquet")]
    return ds.dataset(files, format="parquet").to_table().to_pylist()


def test_ten_thousand_small_files_in_one_folder(tmp_path):
    pages, texts, bad = small_files(tmp_path / "in", 10_000)
    argv = ["--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"),
            "--no_progress"]  # fmt: skip
    first = run(argv)
    summary = first.summary
    assert summary.ok, summary
    assert (summary.documents_in, summary.documents_done) == (10_000, pages)
    assert summary.pages_done == pages and summary.pages_failed == 0
    assert summary.errors_by_type == {"unsupported_format": bad}
    rows = _rows(tmp_path / "out", "pages")
    routes = [r["route"] for r in rows]
    assert routes.count("structure") == texts
    assert routes.count("blank") == pages - texts
    assert len({(r["source_uri"], r["page_index"]) for r in rows}) == pages
    # Committed as the run went, in a lake-friendly number of files.
    files = list((tmp_path / "out" / "pages").glob("run-*.parquet"))
    assert len(files) < 100
    again = run(argv)
    assert again.summary.ok and again.summary.duplicate_pages == 0
    assert sorted((tmp_path / "out" / "pages").glob("run-*.parquet")) == sorted(files)


def test_a_two_thousand_page_pdf(tmp_path):
    (tmp_path / "in").mkdir()
    text_pages = {0, 999, 1999}
    (tmp_path / "in" / "long.pdf").write_bytes(long_pdf(2000, text_pages))
    outcome = run(["--input", str(tmp_path / "in"), "--output",
                   str(tmp_path / "out"), "--no_progress"])  # fmt: skip
    assert outcome.summary.ok and outcome.summary.pages_done == 2000
    rows = _rows(tmp_path / "out", "pages")
    assert sorted(r["page_index"] for r in rows) == list(range(2000))
    ocr = {r["page_index"]: r["text"] for r in rows if r["route"] == "structure"}
    assert set(ocr) == text_pages
    assert all(SENTENCES[0].split()[0] in text for text in ocr.values())
    [document] = _rows(tmp_path / "out", "documents")
    assert document["complete"] and document["pages_done"] == 2000


def test_a_multi_frame_tiff_with_a_corrupt_frame(tmp_path):
    (tmp_path / "in").mkdir()
    frames = [SENTENCES[0:2], SENTENCES[2:4], SENTENCES[4:6]]
    (tmp_path / "in" / "scan.tiff").write_bytes(tiff_with_a_bad_frame(frames, 1))
    outcome = run(["--input", str(tmp_path / "in"), "--output",
                   str(tmp_path / "out"), "--no_progress"])  # fmt: skip
    summary = outcome.summary
    assert summary.ok and summary.documents_partial == 1
    assert summary.pages_done == 2 and summary.errors_by_type == {"corrupt_image": 1}
    rows = _rows(tmp_path / "out", "pages")
    assert sorted(r["page_index"] for r in rows) == [0, 2]
    [dead] = _rows(tmp_path / "out", "errors")
    assert (dead["page_index"], dead["page_count"]) == (1, 3)
