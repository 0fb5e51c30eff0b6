"""A page's lines (in reading order) as paragraphs, plain text and markdown."""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence

from .lines import Line

_BULLET = re.compile(
    r"^\s*(?:[-*]\s+|[•▪◦·‣■□☐☑☒]\s*|\(?\d{1,3}[.)](?:\s+|(?=[A-Z]))"
    r"|\(?[a-zA-Z][.)]\s+)"
)
#: Check boxes as a list item's marker: markdown task list items.
_CHECKED, _UNCHECKED = "☑☒■", "☐□"
_SENTENCE_END = re.compile(r"[.!?:;)\]\"'”’]$")


def same_row(a: Line, b: Line) -> bool:
    """``b`` continues ``a``'s row: they overlap vertically by half the
    smaller height and ``b`` starts right of ``a`` (a little overlap allowed)."""
    overlap = min(a.y2, b.y2) - max(a.y1, b.y1)
    return overlap > 0.5 * min(a.height, b.height) and b.x1 >= a.x2 - 0.5 * a.height


def _join(left: str, right: str) -> str:
    """Join two pieces of a paragraph, undoing end-of-line hyphenation."""
    if re.search(r"[A-Za-zÀ-ÿ]-$", left) and right[:1].islower():
        return left[:-1] + right
    return f"{left} {right}"


def group_paragraphs(lines: Sequence[Line]) -> list[list[Line]]:
    """Group lines (already in reading order) into paragraphs.

    A new paragraph starts after a vertical gap clearly larger than the page's
    typical gap between lines (by half a line height), at a list bullet, at a
    change of line height (a heading), after a short line that ends a sentence,
    or where the order jumps up (a new column).
    """
    if not lines:
        return []
    median_h = statistics.median(line.height for line in lines)
    right_edge = max(line.x2 for line in lines)
    left_edge = min(line.x1 for line in lines)
    pairs = list(zip(lines, lines[1:], strict=False))
    below = [b.y1 - a.y2 for a, b in pairs if b.y1 >= a.y2 - 0.5 * median_h]
    typical_gap = statistics.median(below) if below else 0.2 * median_h
    paragraph_gap = max(0.0, typical_gap) + 0.5 * median_h
    paragraphs: list[list[Line]] = [[lines[0]]]
    for prev, line in pairs:
        gap = line.y1 - prev.y2
        width = right_edge - left_edge or 1.0
        prev_short = (right_edge - prev.x2) > 0.15 * width
        size_change = abs(line.height - prev.height) > 0.45 * min(
            line.height, prev.height
        )
        new_para = (
            gap > paragraph_gap
            or bool(_BULLET.match(line.text))
            or size_change
            or (prev_short and bool(_SENTENCE_END.search(prev.text)))
            or line.y1 < prev.y1 - median_h  # jumped up: a new column or block
        )
        if same_row(prev, line):
            new_para = False
        if new_para:
            paragraphs.append([line])
        else:
            paragraphs[-1].append(line)
    return paragraphs


def _is_heading(paragraph: Sequence[Line], median_h: float) -> bool:
    text = " ".join(line.text for line in paragraph)
    tall = statistics.mean(line.height for line in paragraph) > 1.3 * median_h
    # A heading has words: a dash or a number set large is not one.
    worded = any(c.isalpha() for c in text)
    return (
        tall
        and worded
        and len(paragraph) <= 2
        and len(text) <= 120
        and not text.endswith(".")
    )


def page_markdown(lines: Sequence[Line]) -> str:
    """The page as markdown: paragraphs, headings (``#``) and list items."""
    if not lines:
        return ""
    median_h = statistics.median(line.height for line in lines)
    blocks = []
    for paragraph in group_paragraphs(lines):
        text = paragraph[0].text
        for line in paragraph[1:]:
            text = _join(text, line.text)
        if _is_heading(paragraph, median_h):
            blocks.append("# " + text)
        elif _BULLET.match(text):
            blocks.append(list_item(text))
        else:
            blocks.append(text)
    return "\n\n".join(blocks) + "\n"


def list_item(text: str) -> str:
    """A list item's markdown: bullets as ``-``, check boxes as ``- [x]`` /
    ``- [ ]``; a number or letter is kept as it is printed (it is a word of
    the page: ``3.`` stays ``3.``, ``b)`` stays ``b)``)."""
    marker = _BULLET.match(text).group(0).strip()
    rest = _BULLET.sub("", text, count=1)
    if marker in _CHECKED:
        return "- [x] " + rest
    if marker in _UNCHECKED:
        return "- [ ] " + rest
    if marker in ("-", "*", "•", "▪", "◦", "·", "‣"):
        return "- " + rest
    if re.fullmatch(r"\d{1,3}\.", marker):
        return f"{marker} {rest}"
    return f"- {marker} {rest}"


def page_text(lines: Sequence[Line]) -> str:
    """Recognised lines in reading order, one per line."""
    return "\n".join(line.text for line in lines)
