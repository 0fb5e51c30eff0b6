"""Tables the layout model did not see: lines aligned in columns.

Tables without rules (spreadsheet exports, web pages, slides) and tables
the layout model labels a figure or text are found from the OCR'd lines
alone: three or more consecutive rows of two or more short pieces, whose
pieces start (or end, for numbers) at the same few x positions.  Each such
run of rows is a table candidate that the engine gives the table-structure
model, as it does the layout model's table regions.

Running text is never a candidate: a row holding a long piece (a line of
prose, more than eight words or over 45% of the page's width) breaks a
run, and a run whose pieces average more than seven words or are wide
(over 30% of the page) is columns of text, not a table; nor is a numbered
or bulleted list, whose first column holds only its markers.

Pure functions over :class:`.lines.Line` values.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence

from .lines import Line


def _rows(lines: Sequence[Line]) -> list[list[Line]]:
    """Lines grouped into rows (vertical centres within half a line height),
    top to bottom, each row left to right."""
    rows: list[list[Line]] = []
    for line in sorted(lines, key=lambda ln: (ln.y1 + ln.y2) / 2):
        centre = (line.y1 + line.y2) / 2
        if rows:
            last = rows[-1]
            mid = statistics.fmean((ln.y1 + ln.y2) / 2 for ln in last)
            if abs(centre - mid) < 0.5 * min(line.height, last[0].height):
                last.append(line)
                continue
        rows.append([line])
    return [sorted(row, key=lambda ln: ln.x1) for row in rows]


def _is_prose(line: Line, page_width: float) -> bool:
    return len(line.text.split()) > 8 or (line.x2 - line.x1) > 0.45 * page_width


def _anchors(row: Sequence[Line]) -> list[tuple[float, float]]:
    return [(ln.x1, ln.x2) for ln in row]


def _aligned(a: Sequence[Line], b: Sequence[Line], tolerance: float) -> int:
    """How many pieces of row ``b`` start, end or are centred where a piece
    of ``a`` is (left-aligned words, right-aligned numbers, centred
    headers)."""
    count = 0
    for x1, x2 in _anchors(b):
        if any(
            abs(x1 - p1) <= tolerance
            or abs(x2 - p2) <= tolerance
            or abs((x1 + x2) - (p1 + p2)) <= 2 * tolerance
            for p1, p2 in _anchors(a)
        ):
            count += 1
    return count


_MARKER = re.compile(
    r"^\s*(?:(?:\d{1,3}\.)*\d{1,3}[.)]|[a-zA-Z][.)]|[-*•▪◦·‣☐☑☒□■])\s*$"
)


def _prose_or_list(run: Sequence[Sequence[Line]], page_width: float) -> bool:
    """Columns of running text (pieces of many words, or wide), or a list
    whose first column is only its markers (``1.``, ``2.1.``, ``a)``, ``•``)."""
    pieces = [ln for row in run for ln in row]
    words = statistics.fmean(len(ln.text.split()) for ln in pieces)
    width = statistics.median(ln.x2 - ln.x1 for ln in pieces)
    if words > 7 or width > 0.3 * page_width:
        return True
    firsts = [row[0] for row in run if len(row) >= 2]
    columns = max(len(row) for row in run)
    return columns <= 2 and all(_MARKER.match(ln.text) for ln in firsts)


def table_candidates(
    lines: Sequence[Line],
    page_width: float,
    tables: Sequence[Sequence[float]] = (),
    texts: Sequence[Sequence[float]] = (),
    min_rows: int = 3,
) -> list[tuple[float, float, float, float]]:
    """Boxes of runs of at least ``min_rows`` rows aligned in two or more
    columns, among the lines outside the layout model's ``tables``.  A row
    whose pieces lie in two of its ``texts`` regions is two columns of text
    side by side, not a table row."""
    lines = [ln for ln in lines if not any(ln.centred_in(t) for t in tables)]
    if not lines:
        return []
    unit = statistics.median(ln.height for ln in lines)

    def columns_of_text(row: Sequence[Line]) -> bool:
        owners = {
            next((k for k, box in enumerate(texts) if ln.centred_in(box)), -1)
            for ln in row
        }
        return len(owners - {-1}) >= 2

    rows = _rows(lines)
    runs: list[list[list[Line]]] = []
    current: list[list[Line]] = []
    for row in rows:
        multi = (
            len(row) >= 2
            and not any(_is_prose(ln, page_width) for ln in row)
            and not columns_of_text(row)
        )
        if current:
            gap = min(ln.y1 for ln in row) - max(ln.y2 for ln in current[-1])
            near = gap <= 2.5 * unit
            last_multi = next(r for r in reversed(current) if len(r) >= 2)
            fits = _aligned(last_multi, row, 0.8 * unit)
            if near and multi and fits >= 2:
                current.append(row)
                continue
            # A one-piece row inside a run: a cell's second line, aligned.
            if (
                near
                and len(row) == 1
                and fits == 1
                and not _is_prose(row[0], page_width)
            ):
                current.append(row)
                continue
            runs.append(current)
            current = []
        if multi:
            current = [row]
    if current:
        runs.append(current)
    boxes = []
    for run in runs:
        while run and len(run[-1]) < 2:
            run.pop()  # a trailing one-piece row is the text after the table
        if sum(len(r) >= 2 for r in run) < min_rows or _prose_or_list(run, page_width):
            continue
        held = [ln for row in run for ln in row]
        pad = 0.5 * unit
        boxes.append(
            (
                min(ln.x1 for ln in held) - pad,
                min(ln.y1 for ln in held) - pad,
                max(ln.x2 for ln in held) + pad,
                max(ln.y2 for ln in held) + pad,
            )
        )
    return boxes
