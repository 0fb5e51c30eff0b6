"""Which reading of a page with mostly tall boxes is kept (pure function)."""

from ocrbeam.engines.page_turn import mostly_vertical, turned_reads_as_well


def _reading(texts, scores, boxes):
    return {"rec_texts": texts, "rec_scores": scores, "rec_boxes": boxes}


TALL = [[10, 10, 30, 300], [40, 10, 60, 280]]
WIDE = [[10, 10, 300, 30], [10, 40, 280, 60]]
TEXTS = ["Invoice number 4711", "Total amount payable"]


def test_a_quarter_turned_latin_page_keeps_the_upright_reading_on_a_tie():
    """Both readings hold the same words at about the same scores (PaddleOCR
    turns tall crops before reading them): the upright frame wins, whichever
    scored a hair higher."""
    vertical = _reading(TEXTS, [0.99, 0.99], TALL)
    turned = _reading(TEXTS, [0.98, 0.98], WIDE)
    assert mostly_vertical(vertical) and not mostly_vertical(turned)
    assert turned_reads_as_well(vertical, turned)


def test_vertical_text_keeps_its_reading_when_turned_reads_worse():
    """Sideways glyphs read badly: the vertical reading stays."""
    vertical = _reading(["縦書きの文章です", "二行目の文章です"], [0.97, 0.96], TALL)
    turned = _reading(["I", "-", "二"], [0.41, 0.35, 0.5], [*WIDE, WIDE[0]])
    assert not turned_reads_as_well(vertical, turned)


def test_a_turned_reading_still_vertical_is_not_kept():
    vertical = _reading(TEXTS, [0.9, 0.9], TALL)
    assert not turned_reads_as_well(vertical, _reading(TEXTS, [0.99, 0.99], TALL))
