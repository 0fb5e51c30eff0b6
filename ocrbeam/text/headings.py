"""Headings from typography: which lines are section titles, and at what
level, whatever the layout model called their region.

Word processors, web pages and slides show a heading by its type alone: a
short line set larger, bolder or in another colour than the body, on a
line of its own, with or without a number.  The layout model finds titles
of the papers it was trained on; on other documents it calls such lines
text (or nothing).  So every short line is weighed against the page's body
text with what the engine measured in the image (:class:`.lines.Line`'s
``size``, ``weight`` and ``tone``, and the box height):

* **promoted** when it is clearly larger or bolder than the body, in
  another tone and a little larger, or numbered like a section (``2.1
  Scope``) and a little larger;
* **never a heading**: a line ending with ``:`` or ``,`` (a bold lead-in of
  a list), a list item, a page number, a line that is mostly digits, a
  sentence (four words or more and a full stop), a long line, a row of
  several pieces (a table's header row), or a line starting in lower case
  unless it is set clearly larger (a paragraph's last line);
* **levels**: from the numbering where there is one (``2`` -> 2, ``2.1``
  -> 3), else by rank of prominence on the page (the same size and weight,
  the same level): the largest style is 1.

Pure functions over :class:`.lines.Line` values.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from typing import NamedTuple

from .lines import Line

NUMBERED = re.compile(r"^\s*((?:\d{1,2}\.)*\d{1,2})\.?\s+\S")
PAGE_NUMBER = re.compile(r"^\s*(?:page\s+)?[-–]?\s*\d{1,4}\s*[-–]?\s*$", re.I)
_LIST_ITEM = re.compile(r"^\s*(?:[-*•▪◦·‣☐☑☒□■]|\(?[a-zA-Z]\)|\d{1,3}\))\s*")
_LEAD_IN = re.compile(r"[:,;]\s*$")
#: A section number the detector boxed apart from its title.
BARE_NUMBER = re.compile(r"^\s*(?:\d{1,2}\.)*\d{1,2}\.?\s*$")


class BodyStyle(NamedTuple):
    """The page's running text: median box height, x-height, stroke
    weight and ink tone over its characters."""

    height: float
    size: float
    weight: float
    tone: float


def _weighted_median(values: Sequence[tuple[float, int]]) -> float:
    values = sorted(v for v in values if v[1] > 0)
    if not values:
        return 0.0
    half = sum(w for _, w in values) / 2
    seen = 0
    for value, weight in values:
        seen += weight
        if seen >= half:
            return value
    return values[-1][0]


def body_style(lines: Sequence[Line]) -> BodyStyle:
    """The style the page's running text is set in: its lines of four or
    more words, weighted by their characters, where they hold a third of
    the page's characters; else all its lines (a page of short lines: a
    slide, a form).  Section numbers boxed apart and unmeasurable lines
    (a stroke measure over 0.6: rules, blobs) are left out."""
    measured = [
        ln for ln in lines if not BARE_NUMBER.match(ln.text) and ln.weight < 0.6
    ] or list(lines)
    running = [ln for ln in measured if len(ln.text.split()) >= 4]
    total = sum(len(ln.text) for ln in measured)
    if sum(len(ln.text) for ln in running) < total / 3:
        running = measured
    chars = [(ln, len(ln.text)) for ln in running]
    return BodyStyle(
        height=_weighted_median([(ln.height, n) for ln, n in chars]) or 10.0,
        size=_weighted_median([(ln.size, n) for ln, n in chars if ln.size > 0]),
        weight=_weighted_median([(ln.weight, n) for ln, n in chars if ln.weight > 0]),
        tone=_weighted_median([(ln.tone, n) for ln, n in chars if ln.size > 0]),
    )


def prominence(line: Line, body: BodyStyle) -> float:
    """How much larger than the body a line is set: the mean of its box
    height and x-height ratios (the box alone varies with ascenders,
    descenders and padding)."""
    ratios = [line.height / body.height]
    if line.size > 0 and body.size > 0:
        ratios.append(line.size / body.size)
    return statistics.fmean(ratios)


def is_bold(line: Line, body: BodyStyle) -> bool:
    """Strokes clearly thicker than the body's (a measure above 0.6 is a
    line of blobs or rules, not type)."""
    return body.weight > 0 and 1.3 * body.weight <= line.weight < 0.6


def other_tone(line: Line, body: BodyStyle) -> bool:
    """Ink clearly lighter or darker than the body's (a coloured heading)."""
    return line.size > 0 and body.size > 0 and abs(line.tone - body.tone) >= 25


def could_be_heading(text: str, lower: bool = False) -> bool:
    """Short, with letters, not a list item, lead-in or page number; not
    starting in lower case unless ``lower`` (a line set clearly apart: web
    pages have lower-case headings, a paragraph's continuation is not
    one)."""
    words = text.split()
    letters = sum(c.isalpha() for c in text)
    return (
        0 < len(words) <= 14
        and len(text) <= 100
        and letters >= 2
        and letters >= 0.4 * len(text.replace(" ", ""))
        and not _LEAD_IN.search(text)
        and not _LIST_ITEM.match(text)
        and not PAGE_NUMBER.match(text)
        and (lower or not text[:1].islower())
        and not (len(words) >= 4 and text.endswith("."))  # a sentence
    )


def _styled(row: Sequence[Line]) -> list[Line]:
    """The lines of a row that carry its style: a section number the
    detector boxed apart (``1.2.`` before ``Scope``) is too short to
    measure."""
    words = [ln for ln in row if not BARE_NUMBER.match(ln.text)]
    return words or list(row)


def looks_like_heading(row: Sequence[Line], body: BodyStyle) -> bool:
    """A row of lines (one line of the page) set as a heading.  A row of
    several pieces apart (not a section number and its title) is a table
    row, not a heading."""
    text = " ".join(ln.text for ln in row)
    styled = _styled(row)
    if len(styled) > 1:
        return False
    big = statistics.fmean(prominence(ln, body) for ln in styled)
    bold = all(is_bold(ln, body) for ln in styled)
    tone = all(other_tone(ln, body) for ln in styled)
    if not could_be_heading(text, lower=big >= 1.25):
        return False
    if big >= 1.25 or bold:
        return True
    if tone and big >= 1.05:
        return True
    numbered = NUMBERED.match(text)
    # "2.1 Scope" is a section; "2. Berries" is as often a list item.
    return bool(numbered) and "." in numbered.group(1) and big >= 1.12


def row_prominence(row: Sequence[Line], body: BodyStyle) -> float:
    """:func:`prominence` of a row's styled lines (a section number the
    detector boxed apart left out)."""
    return statistics.fmean(prominence(ln, body) for ln in _styled(row))


def heading_levels(
    headings: Sequence[tuple[str, Sequence[Line]]], body: BodyStyle
) -> list[int]:
    """Levels of a page's headings (text and lines each): numbered ones from
    their numbering, the others by rank of prominence (within 10% is the
    same rank; bold counts as a little larger)."""
    keys = []
    for _, lines in headings:
        styled = _styled(lines)
        big = statistics.fmean(prominence(ln, body) for ln in styled)
        bold = all(is_bold(ln, body) for ln in styled)
        keys.append(big + (0.05 if bold else 0.0))
    ranks: list[float] = []
    for key in sorted(keys, reverse=True):
        if not ranks or key < ranks[-1] / 1.1:
            ranks.append(key)
    levels = []
    for (text, _), key in zip(headings, keys, strict=True):
        numbered = NUMBERED.match(text)
        if numbered:
            levels.append(min(6, numbered.group(1).count(".") + 2))
            continue
        rank = next(i for i, r in enumerate(ranks) if key >= r / 1.1)
        levels.append(min(6, rank + 1))
    return levels
