from ocrbeam.transforms.documents import assemble
from ocrbeam.transforms.records import PageResult

from ocrbeam.text.documents import join_pages


def _row(index, count, markdown, text=None):
    return PageResult(
        "d" * 64,
        "mem://doc.pdf",
        index,
        count,
        100,
        100,
        "e",
        "m",
        text if text is not None else markdown.replace("\n\n", "\n").strip(),
        markdown,
        "{}",
        1,
        1.0,
        1.0,
        "h",
        None,
        "ocr",
    )


def test_a_paragraph_running_over_a_page_break_is_joined():
    md = join_pages(
        [
            (0, "# Title\n\nThe first paragraph goes on\n"),
            (1, "and ends here.\n\nNext.\n"),
        ],
        2,
    )
    assert md == "# Title\n\nThe first paragraph goes on and ends here.\n\nNext.\n"


def test_a_hyphen_at_the_page_break_is_removed():
    md = join_pages([(0, "the recog-\n"), (1, "nition works.\n")], 2)
    assert md == "the recognition works.\n"


def test_finished_sentences_and_headings_are_not_joined():
    md = join_pages([(0, "Done.\n"), (1, "next page starts lower.\n")], 2)
    assert md == "Done.\n\nnext page starts lower.\n"
    md = join_pages([(0, "# Heading\n"), (1, "lower case start\n")], 2)
    assert md == "# Heading\n\nlower case start\n"


def test_missing_pages_are_marked():
    md = join_pages([(0, "One.\n"), (2, "Three.\n")], 3)
    assert md == "One.\n\n<!-- page 2: not available -->\n\nThree.\n"


def test_assemble_orders_pages_and_reports_completeness():
    rows = [_row(1, 3, "b."), _row(0, 3, "a."), _row(0, 3, "a.")]
    doc = assemble(("mem://doc.pdf", "d" * 64), rows)
    assert (doc.page_count, doc.pages_done, doc.complete) == (3, 2, False)
    assert doc.text == "a.\n\nb."
    assert doc.markdown.startswith("a.\n\nb.")
    assert "page 3: not available" in doc.markdown
