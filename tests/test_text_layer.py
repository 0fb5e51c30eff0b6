"""The text-layer checks (ocrbeam.engines.text_layer): pure functions."""

from __future__ import annotations

import pytest

from ocrbeam.engines.text_layer import (
    TextLayer,
    as_ocr_result,
    decode_lines,
    encode_lines,
    uncovered_share,
    verdict,
)

GOOD = TextLayer(lines=[("word " * 8, 0, 0, 100, 10)], chars=400)


@pytest.mark.parametrize(
    ("layer", "mode", "use", "reason"),
    [
        (GOOD, "auto", True, "text layer passed its checks"),
        (GOOD, "ignore", False, "render.textLayer=ignore"),
        (TextLayer(), "auto", False, "no text layer"),
        (TextLayer(), "trust", False, "no text layer"),
        (TextLayer(chars=5), "auto", False, "text layer of only 5 characters"),
        (TextLayer(chars=5), "trust", True, "render.textLayer=trust"),
        (TextLayer(chars=400, invisible=390, image_share=1.0), "auto", False,
         "text layer is invisible (98% of characters) over an image covering "
         "100% of the page: another program's OCR"),
        (TextLayer(chars=400, invisible=390, image_share=1.0), "trust", True,
         "render.textLayer=trust"),
        (TextLayer(chars=400, unmapped=40), "auto", False,
         "10% of the text layer's characters have no Unicode mapping"),
        (TextLayer(chars=400, unmapped=4), "auto", True,
         "text layer passed its checks"),
        (TextLayer(chars=400, odd=100), "auto", False,
         "25% of the text layer's characters are private-use, unassigned or "
         "control characters"),
        (TextLayer(chars=400, rotation=90), "auto", False, "page turned by /Rotate 90"),
    ],
)  # fmt: skip
def test_verdict_says_whether_and_why(layer, mode, use, reason):
    assert verdict(layer, mode)[:2] == (use, reason)
    assert not verdict(layer, mode).compare


def test_a_visible_layer_over_a_page_sized_image_is_compared_with_ocr_first():
    layer = TextLayer(chars=400, image_share=0.97)
    assert verdict(layer) == (
        True,
        "text layer over an image covering 97% of the page",
        True,
    )
    assert not verdict(layer, "trust").compare
    assert not verdict(TextLayer(chars=400, image_share=0.6)).compare


def test_uncovered_share_is_the_text_area_without_a_line_of_the_layer():
    regions = [
        {"label": "text", "coordinate": [0, 0, 100, 100]},
        {"label": "title", "coordinate": [0, 200, 100, 300]},
        # Pictures need no words; regions ocrbeam added are not the model's.
        {"label": "figure", "coordinate": [0, 400, 100, 500]},
        {"label": "table", "coordinate": [0, 600, 100, 700], "source": "lines"},
    ]
    assert uncovered_share(regions, [[10, 10, 90, 30]]) == 0.5
    assert uncovered_share(regions, [[10, 10, 90, 30], [0, 240, 50, 260]]) == 0.0
    assert uncovered_share([], []) == 0.0


def test_lines_cross_to_the_engine_and_read_as_ocr_lines():
    lines = [("Straße 12", 1.0, 2.0, 30.256, 12.0), ("b", 0, 20, 5, 30)]
    assert decode_lines(encode_lines(lines, compare=True)) == (
        [("Straße 12", 1.0, 2.0, 30.26, 12.0), ("b", 0, 20, 5, 30)],
        True,
    )
    result = as_ocr_result(lines)
    assert result["rec_texts"] == ["Straße 12", "b"]
    assert result["rec_scores"] == [1.0, 1.0]
    assert result["rec_boxes"][0] == [1.0, 2.0, 30.3, 12.0]
    assert result["rec_polys"][1] == [[0, 20], [5, 20], [5, 30], [0, 30]]


def test_a_pages_lines_follow_words_not_pdfium_s_runs():
    """Text set turned reads as its words; cells set on one baseline are
    lines of their own; a justified line's wide spaces do not cut it;
    raised characters join their word unless they mark a number."""
    import pypdfium2 as pdfium
    from fpdf import FPDF

    from ocrbeam.engines.text_layer import read

    pdf = FPDF(unit="pt", format="A4")
    pdf.add_page()
    pdf.set_font("helvetica", "", 11)
    for x, cell in ((72, "Region"), (200, "Revenue"), (330, "Margin")):
        pdf.text(x, 100, cell)
    words = "the quick brown fox jumps over the lazy dog".split()
    x = 72.0
    for word in words:  # spaces widened as a justified line's are
        pdf.text(x, 140, word)
        x += pdf.get_string_width(word) + 9
    with pdf.rotation(90, 40, 400):
        pdf.text(40, 400, "Revenue in thousands")
    # A unit's exponent stays in its word; a footnote mark after a number
    # is a word of its own.
    for y, (base, raised, after) in ((180, ("Area (km", "2", ")")),
                                     (210, ("273.879.750", "1", ""))):  # fmt: skip
        pdf.set_font("helvetica", "", 11)
        pdf.text(72, y, base)
        x = 72 + pdf.get_string_width(base)
        pdf.set_font("helvetica", "", 7)
        pdf.text(x, y - 4, raised)
        pdf.set_font("helvetica", "", 11)
        pdf.text(x + pdf.get_string_width(raised) * 7 / 11, y, after)
    document = pdfium.PdfDocument(bytes(pdf.output()))
    page = document[0]
    layer = read(page, page.get_textpage(), 150 / 72)
    texts = [line[0] for line in layer.lines]
    assert texts == ["Region", "Revenue", "Margin", " ".join(words),
                     "Revenue in thousands", "Area (km2)", "273.879.750 1"]  # fmt: skip
    x1, y1, x2, y2 = layer.lines[4][1:]
    assert y2 - y1 > 5 * (x2 - x1)  # standing up, as drawn
    assert layer.chars == sum(len(t.replace(" ", "")) for t in texts)
