"""A PDF page's own text layer, and whether to trust it.

A born-digital PDF's text layer holds every word exactly, with its box; many
scanned PDFs carry one too, written invisibly over the page image by the
scanner or an archive tool's OCR, often poorly.  :func:`read` takes a page's
lines with what the page says about them (how many characters are
invisible, unmapped or outside any script, how much of the page one image
covers); :func:`verdict` decides, before any model runs, whether the words
can stand for the page (``render.textLayer``: ``auto`` checks, ``trust``
takes any text layer, ``ignore`` none).  A text layer that passes is checked
once more against the layout model's regions in the engine
(:func:`uncovered_share`): text the layer lacks (drawn as paths or pictures)
sends the page to OCR.

Runs in the renderer process, under the caller's pdfium lock.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Optional

#: Fewer visible characters than this: no text layer to speak of.
MIN_CHARS = 16
#: Share of the characters drawn invisibly (render mode 3) that makes the
#: layer a hidden OCR layer.
INVISIBLE_SHARE = 0.5
#: Share of characters without a Unicode mapping the layer may have.
UNMAPPED_SHARE = 0.02
#: Share of characters outside any script (private use, unassigned,
#: replacement, control) the layer may have.
ODD_SHARE = 0.05
#: A text layer over (or under) an image covering this share of the page is
#: compared with OCR of the page before it is trusted: it may be a scan's.
PAGE_IMAGE = 0.9
#: Word F1 between such a layer and OCR of the page below which OCR is read.
AGREEMENT = 0.9
#: Share of the layout model's text area holding no text-layer line beyond
#: which the layer is taken to miss the page's visible text.
UNCOVERED_SHARE = 0.25
#: A gap wider than this many line heights (and four times the page's
#: usual word gap) between two words of one pdfium line cuts it: columns
#: and table cells set on one baseline.
GAP_SPLIT = 0.9
#: What pdfium reads a hyphen that breaks a word at a line's end as.
_PDFIUM_HYPHEN = "\x02"
#: A quarter turn in radians (pdfium's character angles).
_QUARTER = 1.5707963267948966
#: pdfium's text render mode for invisible text.
_INVISIBLE_MODE = 3


@dataclass
class TextLayer:
    """A page's text layer: lines ``(text, x1, y1, x2, y2)`` in pixels at the
    render dpi (top-left origin), the page's size in those pixels, and
    counts of its characters."""

    lines: list[tuple[str, float, float, float, float]] = field(default_factory=list)
    width: int = 0
    height: int = 0
    #: Characters that are not white space.
    chars: int = 0
    #: Of those: drawn invisibly, without a Unicode mapping, outside any script.
    invisible: int = 0
    unmapped: int = 0
    odd: int = 0
    #: Share of the page the largest image covers.
    image_share: float = 0.0
    #: The page's /Rotate, in degrees clockwise.
    rotation: int = 0


class Verdict(NamedTuple):
    """Whether the page's words come from its text layer, and why;
    ``compare``: only once it agrees with OCR of the page."""

    use: bool
    reason: str
    compare: bool = False


def verdict(layer: TextLayer, mode: str = "auto") -> Verdict:
    """Trust the text layer (``use``) or OCR the page; ``reason`` says why,
    in words a row can carry."""
    if mode == "ignore":
        return Verdict(False, "render.textLayer=ignore")
    if layer.chars == 0:
        return Verdict(False, "no text layer")
    if mode == "trust":
        return Verdict(True, "render.textLayer=trust")
    if layer.rotation:
        # Character boxes are in the unturned page's space.
        return Verdict(False, f"page turned by /Rotate {layer.rotation}")
    if layer.chars < MIN_CHARS:
        return Verdict(False, f"text layer of only {layer.chars} characters")
    share = layer.invisible / layer.chars
    if share >= INVISIBLE_SHARE:
        over = (
            f" over an image covering {layer.image_share:.0%} of the page"
            if layer.image_share >= 0.5
            else ""
        )
        return Verdict(
            False,
            f"text layer is invisible ({share:.0%} of characters){over}: "
            "another program's OCR",
        )
    share = layer.unmapped / layer.chars
    if share > UNMAPPED_SHARE:
        return Verdict(
            False, f"{share:.0%} of the text layer's characters have no Unicode mapping"
        )
    share = layer.odd / layer.chars
    if share > ODD_SHARE:
        return Verdict(
            False,
            f"{share:.0%} of the text layer's characters are private-use, "
            "unassigned or control characters",
        )
    if layer.image_share >= PAGE_IMAGE:
        return Verdict(
            True,
            f"text layer over an image covering {layer.image_share:.0%} of the page",
            compare=True,
        )
    return Verdict(True, "text layer passed its checks")


def _odd(ch: str) -> bool:
    return ch == "\ufffd" or unicodedata.category(ch) in ("Co", "Cn", "Cc", "Cs")


def read(page, textpage, scale: float) -> TextLayer:
    """The text layer of a pypdfium2 page (its ``textpage`` open), scaled to
    pixels at ``scale`` pixels per point.

    Lines are pdfium's, cut where a word stands far from the one before it
    on the same baseline (:func:`_pieces`: the next column or table cell)
    or on another line (pdfium runs on past a hyphen that breaks a word)."""
    import pypdfium2.raw as pdfium_c

    width, height = page.get_size()
    layer = TextLayer(
        width=round(width * scale),
        height=round(height * scale),
        rotation=page.get_rotation() % 360,
    )
    raw = textpage.raw
    lines: list[list[list]] = [[]]  # words [text, left, bottom, right, top]
    word: Optional[list] = None
    prev: list = []
    for i in range(textpage.count_chars()):
        code = pdfium_c.FPDFText_GetUnicode(raw, i)
        ch = chr(code) if 0 < code < 0x110000 else "\ufffd"
        ch = _LIGATURES.get(ch, "-" if ch == _PDFIUM_HYPHEN else ch)
        if ch in "\r\n":
            lines.append([])
            word = None
            continue
        if ch.isspace():
            word = None
            continue
        layer.chars += 1
        if pdfium_c.FPDFText_HasUnicodeMapError(raw, i) or code == 0:
            layer.unmapped += 1
        elif _odd(ch):
            layer.odd += 1
        obj = pdfium_c.FPDFText_GetTextObject(raw, i)
        if obj and pdfium_c.FPDFTextObj_GetTextRenderMode(obj) == _INVISIBLE_MODE:
            layer.invisible += 1
        left, bottom, right, top = textpage.get_charbox(i, loose=True)
        if right <= left or top <= bottom:
            if word is not None:
                word[0] += ch
            continue
        turn = round(pdfium_c.FPDFText_GetCharAngle(raw, i) / _QUARTER) % 4
        char = [ch, left, bottom, right, top, turn]
        if word is not None and _new_word(word, char, prev):
            word = None
        prev = char
        if word is None:
            word = char
            lines[-1].append(word)
            continue
        word[0] += ch
        _grow(word, char)
    layer.image_share = _largest_image_share(page, width * height)
    for text, left, bottom, right, top, _turn in _pieces(lines):
        layer.lines.append(
            (
                text,
                left * scale,
                (height - top) * scale,
                right * scale,
                (height - bottom) * scale,
            )  # fmt: skip
        )
    return layer


#: Ligature code points as the letters they stand for (what a reader types).
_LIGATURES = {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi",
              "\ufb04": "ffl", "\ufb05": "st", "\ufb06": "st"}  # fmt: skip


def _apart(a: Sequence, b: Sequence) -> bool:
    """Box ``b`` behind box ``a``, or beside it on another line (less than
    a quarter of the lower one's height shared); boxes as ``[text, left,
    bottom, right, top]``."""
    overlap = min(a[4], b[4]) - max(a[2], b[2])
    return b[3] < a[1] or overlap < 0.25 * min(a[4] - a[2], b[4] - b[2])


def _new_word(word: list, char: Sequence, prev: Sequence) -> bool:
    """Whether a character starts a word though no space came before it:
    far from the word, on another line, turned otherwise, or raised or
    lowered after a digit (a footnote mark: "750" then "1"; "km" then "2"
    stays one word).  Text set turned, as an axis label or a column head,
    runs on in pdfium's order: its characters stand one above the other."""
    if word[5] != char[5]:
        return True
    if word[5]:
        return False
    size = max(word[4] - word[2], char[4] - char[2])
    if prev and prev[0][-1:].isdigit() and abs(char[2] - prev[2]) > 0.2 * size:
        return True
    return char[1] - word[3] > 0.25 * size or _apart(word, char)


def _grow(box: list, other: Sequence) -> None:
    """``box`` (``[text, left, bottom, right, top, turn]``) made to hold
    ``other`` too."""
    box[1:5] = [min(box[1], other[1]), min(box[2], other[2]),
                max(box[3], other[3]), max(box[4], other[4])]  # fmt: skip


def _pieces(lines: list[list[list]]) -> list[tuple]:
    """pdfium's lines of words as text lines: a line is cut before a word on
    another line, and before a word further from the one before it than
    ``GAP_SPLIT`` line heights and four times the page's usual word gap (a
    justified line's widened spaces stay; a column's or cell's gap cuts)."""
    # The usual space between words: gaps under 0.6 line heights (a page of
    # tables has more gaps between cells than between words).
    gaps = sorted(
        b[1] - a[3]
        for line in lines
        for a, b in zip(line, line[1:], strict=False)
        if not a[5] and 0 < b[1] - a[3] < 0.6 * (b[4] - b[2])
    )
    usual = gaps[len(gaps) // 2] if gaps else 0.0
    pieces: list[list] = []
    for line in lines:
        # pdfium breaks a line after a raised or lowered character ("km2"
        # then ")"): a line that starts where the last one stopped goes on.
        piece = None
        if pieces and line and _touches(pieces[-1], line[0]):
            piece = pieces[-1]
            piece[0] += line[0][0]
            _grow(piece, line[0])
            line = line[1:]
        for w in line:
            if piece is not None and _cuts(piece, w, usual):
                piece = None
            if piece is None:
                piece = list(w)
                pieces.append(piece)
                continue
            piece[0] += " " + w[0]
            _grow(piece, w)
    return [tuple(p) for p in pieces]


def _touches(piece: Sequence, word: Sequence) -> bool:
    """``word`` goes on from ``piece`` on its baseline, with no space between
    (a raised footnote mark after a number does not: "750" then "1")."""
    size = word[4] - word[2]
    return (
        not piece[5]
        and not word[5]
        and abs(word[2] - piece[2]) < 0.1 * size
        and abs(word[1] - piece[3]) < 0.1 * size
    )


def _cuts(piece: list, word: Sequence, usual: float) -> bool:
    """Whether ``word`` starts a new piece of a pdfium line after ``piece``."""
    if piece[5] != word[5]:
        return True
    if piece[5]:  # turned text: pdfium's line as it is
        return False
    size = max(piece[4] - piece[2], word[4] - word[2])
    gap = word[1] - piece[3]
    return _apart(piece, word) or gap > max(GAP_SPLIT * size, 4 * usual)


def _largest_image_share(page, area: float) -> float:
    import pypdfium2.raw as pdfium_c

    largest = 0.0
    if area <= 0:
        return largest
    for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=4):
        left, bottom, right, top = obj.get_bounds()
        largest = max(largest, (right - left) * (top - bottom) / area)
    return min(1.0, largest)


#: Layout labels of regions that hold running text a text layer should have.
_TEXT_LABELS = ("text", "title", "reference", "table", "figure_caption",
                "table_caption")  # fmt: skip


def uncovered_share(
    regions: Sequence[Mapping[str, Any]], boxes: Sequence[Sequence[float]]
) -> float:
    """Share of the area of the layout model's text regions in which no
    text-layer line (``boxes``) has its centre: text the layer lacks."""
    total = missing = 0.0
    for region in regions:
        if region.get("label") not in _TEXT_LABELS or region.get("source"):
            continue
        x1, y1, x2, y2 = region["coordinate"]
        area = max(0.0, x2 - x1) * max(0.0, y2 - y1)
        total += area
        if not any(
            x1 <= (b[0] + b[2]) / 2 <= x2 and y1 <= (b[1] + b[3]) / 2 <= y2
            for b in boxes
        ):
            missing += area
    return missing / total if total else 0.0


def as_ocr_result(lines: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """Text-layer lines in the OCR result's shape (``rec_texts``,
    ``rec_scores``, ``rec_boxes``, ``rec_polys``): what every later step
    reads, whichever source the words came from."""
    boxes = [[round(float(v), 1) for v in line[1:5]] for line in lines]
    return {
        "rec_texts": [str(line[0]) for line in lines],
        "rec_scores": [1.0] * len(lines),
        "rec_boxes": boxes,
        "rec_polys": [
            [[x1, y1], [x2, y1], [x2, y2], [x1, y2]] for x1, y1, x2, y2 in boxes
        ],  # fmt: skip
    }


def encode_lines(lines: Sequence[Sequence[Any]], compare: bool = False) -> str:
    """Lines as the JSON a page record carries to the engine, with whether
    the engine is to compare them with OCR of the page first."""
    rounded = [[line[0], *(round(float(v), 2) for v in line[1:5])] for line in lines]
    return json.dumps(
        {"lines": rounded, "compare": compare},
        ensure_ascii=False,
        separators=(",", ":"),
    )


def decode_lines(text: str) -> tuple[list[tuple], bool]:
    """``(lines, compare)`` of :func:`encode_lines`' JSON."""
    found = json.loads(text)
    return [tuple(line) for line in found["lines"]], bool(found["compare"])


def agreement(lines: Sequence[Sequence[Any]], ocr: Mapping[str, Any]) -> float:
    """Word F1 of OCR's reading of the page against the text layer's."""
    from ocrbeam.text.quality import word_f1

    layer = " ".join(str(line[0]) for line in lines)
    return word_f1(layer, " ".join(ocr.get("rec_texts") or []))
