import json

from ocrbeam.transforms.convert import to_page_result
from ocrbeam.transforms.records import PageImage

from ocrbeam.engines.ppocrv5 import prune_result
from ocrbeam.text.lines import Line, lines_from_result
from ocrbeam.text.markdown import group_paragraphs, page_markdown


def _line(text, y, x1=100, x2=900, h=30):
    return Line(text, 0.99, x1, y, x2, y + h)


def test_prune_drops_input_path_and_page_index_and_converts_numpy():
    import numpy as np

    raw = {
        "input_path": None,
        "page_index": None,
        "rec_texts": ["a"],
        "rec_boxes": np.array([[1, 2, 3, 4]]),
        "rec_scores": [np.float32(0.5)],
    }
    pruned = prune_result(raw)
    assert "input_path" not in pruned and "page_index" not in pruned
    assert pruned["rec_boxes"] == [[1, 2, 3, 4]]
    json.dumps(pruned)  # serialisable


def test_lines_skip_empty_texts():
    pruned = {
        "rec_texts": ["one", " ", "two"],
        "rec_scores": [0.9, 0.1, 0.8],
        "rec_boxes": [[0, 0, 10, 10], [0, 20, 10, 30], [0, 40, 10, 50]],
    }
    assert [line.text for line in lines_from_result(pruned)] == ["one", "two"]


def test_paragraphs_split_on_vertical_gaps():
    lines = [
        _line("First paragraph line one", 100),
        _line("continues here.", 140, x2=500),
        _line("Second paragraph starts", 260),
        _line("and ends", 300, x2=400),
    ]
    paras = group_paragraphs(lines)
    assert [[line.text for line in p] for p in paras] == [
        ["First paragraph line one", "continues here."],
        ["Second paragraph starts", "and ends"],
    ]


def test_markdown_joins_hyphenated_line_breaks():
    lines = [_line("the recog-", 100), _line("nition works", 140, x2=500)]
    assert page_markdown(lines) == "the recognition works\n"


def test_markdown_keeps_hyphen_before_capitals_and_numbers():
    lines = [_line("Jean-", 100), _line("Paul and COVID-", 140), _line("19", 180)]
    assert page_markdown(lines).startswith("Jean- Paul and COVID- 19")


def test_markdown_marks_headings_and_lists():
    lines = [
        _line("Quarterly Report", 50, h=60, x2=600),
        _line("Revenue grew in every region this quarter and", 150),
        _line("margins held.", 190, x2=400),
        _line("- first point", 260, x2=400),
        _line("- second point", 300, x2=400),
    ]
    md = page_markdown(lines)
    assert md.splitlines()[0] == "# Quarterly Report"
    assert "Revenue grew in every region this quarter and margins held." in md
    assert "- first point" in md and "- second point" in md


def test_empty_page():
    assert page_markdown([]) == ""


def test_to_page_result_fills_every_column():
    page = PageImage("d" * 64, "/x.pdf", 2, 5, 800, 600, b"")
    raw = {
        "input_path": None,
        "page_index": None,
        "model_settings": {"use_doc_preprocessor": False},
        "rec_texts": ["Hello", "World"],
        "rec_scores": [0.9, 0.7],
        "rec_boxes": [[10, 10, 100, 40], [10, 60, 100, 90]],
        "rec_polys": [],
        "dt_polys": [],
    }
    row = to_page_result(
        page,
        raw,
        engine="ppocrv5/onnxruntime",
        model="m",
        elapsed_ms=1.23456,
        config_hash="c",
    )
    assert row.text == "Hello\nWorld"
    assert row.page_index == 2 and row.page_count == 5
    assert row.line_count == 2 and abs(row.mean_score - 0.8) < 1e-9
    assert json.loads(row.result_json)["rec_texts"] == ["Hello", "World"]
    assert row.elapsed_ms == 1.235
