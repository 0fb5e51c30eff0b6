"""Reading order of recognised lines: columns and blocks, then top to bottom.

PP-OCR returns lines sorted top to bottom across the whole page, which reads a
two-column page line by line across both columns.  :func:`reading_order` orders
them with a recursive XY-cut over the line boxes:

1. Running headers and footers (short lines in the top / bottom margin band,
   separated from the body by a gap) are taken out and put first / last.
2. A region with a vertical gutter (an x-interval no line crosses, at least
   0.3 line heights wide between boxes shrunk back from the unclip step) is
   split into columns, read left to right, when the parts look like text
   columns: several lines each, filling a fair share of the region's width.
   Narrow parts are table cells, which read row by row like the text layer.
3. Otherwise it is split at its horizontal gaps into bands, read top to bottom.
   Consecutive bands that share a gutter are merged first, so paragraph breaks
   that happen to line up across two columns do not interleave the columns
   (the classic XY-cut failure).
4. A region with neither gap is read top to bottom, left to right within a row.

Pure functions over boxes (:class:`.lines.Line`).

>>> from ocrbeam.text.lines import Line
>>> left = [Line(f"L{i}", 1, 0, 40 * i, 100, 40 * i + 30) for i in range(3)]
>>> right = [Line(f"R{i}", 1, 150, 40 * i, 250, 40 * i + 30) for i in range(3)]
>>> lines = sorted(left + right, key=lambda line: line.y1)
>>> [lines[i].text for i in reading_order(lines)]
['L0', 'L1', 'L2', 'R0', 'R1', 'R2']
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Optional

from .lines import Line

Interval = tuple[float, float]


def _gaps(intervals: Sequence[Interval], lo: float, hi: float, min_gap: float):
    """Uncovered sub-intervals of [lo, hi] at least ``min_gap`` wide (interior only)."""
    gaps = []
    cursor = lo
    for start, end in sorted(intervals):
        if start - cursor >= min_gap and cursor > lo:
            gaps.append((cursor, start))
        cursor = max(cursor, end)
    return gaps


def _sweep(
    lines: Sequence[Line], weights: Sequence[int], tolerance: int, min_gap: float
):
    """x-intervals where the weighted count of (shrunk) boxes is <= tolerance."""
    events: list[tuple[float, int]] = []
    for line, weight in zip(lines, weights, strict=True):
        pad = min(0.45 * line.height, 0.25 * (line.x2 - line.x1))
        events.append((line.x1 + pad, weight))
        events.append((line.x2 - pad, -weight))
    events.sort()
    lo, hi = events[0][0], events[-1][0]
    gaps, depth, start = [], 0, None
    for x, step in events:
        before = depth
        depth += step
        if before > tolerance >= depth:
            start = x
        elif before <= tolerance < depth and start is not None:
            if x - start >= min_gap and lo < start and x < hi:
                gaps.append((start, x))
            start = None
    return gaps


def _inside_columns(
    line: Line, gap: Interval, lines: Sequence[Line], unit: float
) -> bool:
    """A box across ``gap`` set tight against column lines on both sides (the
    next line up or down within 1.5 line heights): two lines the detector
    merged across the gutter.  A title or a closing paragraph is set off by
    space, and keeps the gutter closed."""
    left = [ln for ln in lines if ln.x2 <= gap[1] and ln is not line]
    right = [ln for ln in lines if ln.x1 >= gap[0] and ln is not line]
    return all(any(_near(line, ln, unit) for ln in side) for side in (left, right))


def _near(a: Line, b: Line, unit: float) -> bool:
    """``b`` is the next line up or down from ``a`` (within 1.5 line heights)."""
    above = a.y1 - b.y2
    below = b.y1 - a.y2
    return -0.3 * unit <= above <= 1.5 * unit or -0.3 * unit <= below <= 1.5 * unit


def _gutters(lines: Sequence[Line], min_gap: float) -> list[Interval]:
    """Vertical gutters: x-intervals crossed by (almost) no line.

    Detection boxes are grown by the unclip step (about half a line height on
    each side), which closes a typeset gutter; the boxes are shrunk back before
    looking.  A gutter may be crossed by a few short lines (a page number, a
    stray box): at most 4% of the region's lines.  A wide line (a title or a
    paragraph spanning the columns) closes it, unless it sits inside the column
    block (lines on both sides above and below it): then it is two lines the
    detector merged across the gutter.
    """
    tolerance = max(1, int(0.04 * len(lines)))
    width = max(ln.x2 for ln in lines) - min(ln.x1 for ln in lines)
    unit = statistics.median(ln.height for ln in lines)
    wide = [ln.x2 - ln.x1 >= 0.25 * width for ln in lines]
    weights = [tolerance + 1 if w else 1 for w in wide]
    gaps = _sweep(lines, weights, tolerance, min_gap)
    if gaps or not any(wide):
        return gaps
    accepted = []
    loose = max(2, int(0.1 * len(lines)))
    for gap in _sweep(lines, [1] * len(lines), loose, min_gap):
        crossers = [
            ln for ln, w in zip(lines, wide, strict=True) if w and _crosses(ln, gap)
        ]
        inside = [ln for ln in crossers if _inside_columns(ln, gap, lines, unit)]
        # Several merged rows in a row: each next to one already accepted.
        grew = True
        while grew:
            grew = False
            for ln in crossers:
                if ln not in inside and any(_near(ln, other, unit) for other in inside):
                    inside.append(ln)
                    grew = True
        if len(inside) == len(crossers):
            accepted.append(gap)
    return accepted


def _y_gaps(lines: Sequence[Line], min_gap: float) -> list[Interval]:
    lo = min(line.y1 for line in lines)
    hi = max(line.y2 for line in lines)
    return _gaps([(line.y1, line.y2) for line in lines], lo, hi, min_gap)


def _split_at(
    items: list[int], lines, gaps: list[Interval], axis: str
) -> list[list[int]]:
    """Partition line indices by the cut positions (gap midpoints) along an axis."""
    cuts = [(a + b) / 2 for a, b in gaps]
    parts: list[list[int]] = [[] for _ in range(len(cuts) + 1)]
    for i in items:
        line = lines[i]
        centre = (line.x1 + line.x2) / 2 if axis == "x" else (line.y1 + line.y2) / 2
        parts[sum(centre > c for c in cuts)].append(i)
    return [p for p in parts if p]


def _overlap(a: list[Interval], b: list[Interval], min_gap: float) -> list[Interval]:
    out = []
    for a1, a2 in a:
        for b1, b2 in b:
            lo, hi = max(a1, b1), min(a2, b2)
            if hi - lo >= min_gap:
                out.append((lo, hi))
    return out


def _row_order(items: list[int], lines: Sequence[Line]) -> list[int]:
    """Top to bottom; lines whose vertical extents overlap read left to right."""
    items = sorted(items, key=lambda i: (lines[i].y1, lines[i].x1))
    rows: list[list[int]] = []
    for i in items:
        line = lines[i]
        if rows:
            last = lines[rows[-1][0]]
            overlap = min(last.y2, line.y2) - max(last.y1, line.y1)
            if overlap > 0.5 * min(last.height, line.height):
                rows[-1].append(i)
                continue
        rows.append([i])
    return [i for row in rows for i in sorted(row, key=lambda j: lines[j].x1)]


#: A column of text fills at least this share of its region's width (median
#: line width); table cells are narrower.
_MIN_COLUMN_FILL = 0.2
#: Gutters at least this many median line heights wide (between shrunk boxes).
_MIN_GUTTER = 0.3


def _crosses(line: Line, gap: Interval) -> bool:
    pad = min(0.45 * line.height, 0.25 * (line.x2 - line.x1))
    return line.x1 + pad < gap[1] and line.x2 - pad > gap[0]


def _text_gutters(
    items: list[int], lines: Sequence[Line], unit: float
) -> list[Interval]:
    """Gutters of a region whose parts are text columns (else [])."""
    if len(items) < 2:
        return []
    region = [lines[i] for i in items]
    gutters = _gutters(region, _MIN_GUTTER * unit)
    if not gutters:
        return []
    width = max(ln.x2 for ln in region) - min(ln.x1 for ln in region)
    for part in _split_at(items, lines, gutters, "x"):
        widths = [lines[i].x2 - lines[i].x1 for i in part]
        if statistics.median(widths) < _MIN_COLUMN_FILL * width:
            return []
    return gutters


def _xy_cut(items: list[int], lines: Sequence[Line], unit: float, depth: int = 0):
    if len(items) <= 1 or depth > 40:
        return _row_order(items, lines)
    gutters = _text_gutters(items, lines, unit)
    if gutters:
        columns = _split_at(items, lines, gutters, "x")
        if len(columns) > 1:
            return [i for col in columns for i in _xy_cut(col, lines, unit, depth + 1)]
    region = [lines[i] for i in items]
    y_gaps = _y_gaps(region, 0.3 * unit)
    if not y_gaps:
        return _row_order(items, lines)
    bands = _split_at(items, lines, y_gaps, "y")
    infos = [(band, _text_gutters(band, lines, unit)) for band in bands]
    # A band too small to show columns itself (a heading beside a column's first
    # line) takes a neighbour's gutters when none of its lines cross them.
    for k, (band, gutters) in enumerate(infos):
        if gutters:
            continue
        for other in (k + 1, k - 1):
            if 0 <= other < len(infos) and infos[other][1]:
                clear = [
                    g
                    for g in infos[other][1]
                    if not any(_crosses(lines[i], g) for i in band)
                ]
                if clear:
                    infos[k] = (band, clear)
                    break
    # Merge consecutive bands that share a gutter: they are one multi-column block.
    merged: list[tuple[list[int], list[Interval]]] = []
    for band, gutters in infos:
        if merged and merged[-1][1] and gutters:
            common = _overlap(merged[-1][1], gutters, _MIN_GUTTER * unit)
            if common:
                merged[-1] = (merged[-1][0] + band, common)
                continue
        merged.append((band, gutters))
    if len(merged) == 1:
        (only, gutters) = merged[0]
        if gutters:  # a single multi-column block: cut at the common gutter
            columns = _split_at(only, lines, gutters, "x")
            return [i for c in columns for i in _xy_cut(c, lines, unit, depth + 1)]
        return _row_order(items, lines)
    return [i for band, _ in merged for i in _xy_cut(band, lines, unit, depth + 1)]


def _margin_lines(
    lines: Sequence[Line], page_height: Optional[float], unit: float
) -> tuple[list[int], list[int]]:
    """Indices of running headers (top band) and footers (bottom band)."""
    if not page_height or len(lines) < 3:
        return [], []
    band = 0.08 * page_height
    top = min(line.y1 for line in lines)
    bottom = max(line.y2 for line in lines)
    headers = [
        i
        for i, ln in enumerate(lines)
        if ln.y2 <= top + band and ln.y2 < 0.12 * page_height
    ]
    footers = [
        i
        for i, ln in enumerate(lines)
        if ln.y1 >= bottom - band and ln.y1 > 0.88 * page_height
    ]
    body = [ln for i, ln in enumerate(lines) if i not in headers and i not in footers]
    if not body:
        return [], []
    body_top = min(ln.y1 for ln in body)
    body_bottom = max(ln.y2 for ln in body)
    # A header/footer is set off from the body by a gap of at least a line height.
    headers = [i for i in headers if body_top - lines[i].y2 >= unit]
    footers = [i for i in footers if lines[i].y1 - body_bottom >= unit]
    return headers, footers


def reading_order(
    lines: Sequence[Line], page_height: Optional[float] = None
) -> list[int]:
    """Indices of ``lines`` in reading order (see the module docstring)."""
    if not lines:
        return []
    unit = statistics.median(line.height for line in lines)
    headers, footers = _margin_lines(lines, page_height, unit)
    edge = set(headers) | set(footers)
    body = [i for i in range(len(lines)) if i not in edge]
    return (
        _row_order(headers, lines)
        + _xy_cut(body, lines, unit)
        + _row_order(footers, lines)
    )
