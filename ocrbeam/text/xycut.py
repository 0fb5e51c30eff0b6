"""The reading order of a page's regions: an XY-cut over their boxes that
keeps columns together (``route: structure``).

Columns left to right where a gutter runs between them, bands top to bottom
elsewhere; consecutive bands that share a gutter are merged first, so
paragraph breaks that line up across two columns do not interleave them.
Page headers come first and footers last.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _x_gutters(
    boxes: Sequence[Sequence[float]], unit: float
) -> list[tuple[float, float]]:
    """x-intervals no (slightly shrunk) box crosses, inside the boxes' span."""
    shrunk = []
    for b in boxes:
        pad = min(0.1 * (b[2] - b[0]), 0.5 * unit)
        shrunk.append((b[0] + pad, b[2] - pad))
    gaps, cursor = [], None
    for start, end in sorted(shrunk):
        if cursor is not None and start - cursor > 0:
            gaps.append((cursor, start))
        cursor = end if cursor is None else max(cursor, end)
    return gaps


def _y_bands(items: list[int], boxes: Sequence[Sequence[float]]) -> list[list[int]]:
    """``items`` split at the y-gaps no box crosses, top to bottom."""
    bands: list[list[int]] = []
    bottom = None
    for i in sorted(items, key=lambda k: boxes[k][1]):
        if bottom is not None and boxes[i][1] < bottom:
            bands[-1].append(i)
            bottom = max(bottom, boxes[i][3])
        else:
            bands.append([i])
            bottom = boxes[i][3]
    return bands


def _shares_gutter(a: list[int], b: list[int], boxes, unit: float) -> bool:
    gutters_a = _x_gutters([boxes[i] for i in a], unit)
    gutters_b = _x_gutters([boxes[i] for i in b], unit)
    return any(
        min(ga[1], gb[1]) > max(ga[0], gb[0]) for ga in gutters_a for gb in gutters_b
    )


def _xy_cut(items: list[int], boxes, unit: float, depth: int = 0) -> list[int]:
    if len(items) <= 1 or depth > 30:
        return list(items)
    gutters = _x_gutters([boxes[i] for i in items], unit)
    if gutters:
        cuts = [(lo + hi) / 2 for lo, hi in gutters]
        columns: list[list[int]] = [[] for _ in range(len(cuts) + 1)]
        for i in items:
            centre = (boxes[i][0] + boxes[i][2]) / 2
            columns[sum(centre > c for c in cuts)].append(i)
        columns = [c for c in columns if c]
        if len(columns) > 1:
            return [k for c in columns for k in _xy_cut(c, boxes, unit, depth + 1)]
    bands = _y_bands(items, boxes)
    if len(bands) > 1:
        groups = [bands[0]]
        for band in bands[1:]:
            if _shares_gutter(groups[-1], band, boxes, unit):
                groups[-1] = groups[-1] + band
            else:
                groups.append(band)
        if len(groups) > 1:
            return [k for g in groups for k in _xy_cut(g, boxes, unit, depth + 1)]
        if len(groups[0]) < len(items):
            return _xy_cut(groups[0], boxes, unit, depth + 1)
    return sorted(items, key=lambda k: (boxes[k][1], boxes[k][0]))


def order_regions(regions: Sequence[Any], unit: float) -> list[int]:
    """Indices of ``regions`` in reading order: headers, the body by XY-cut,
    footers."""
    boxes = [r.box for r in regions]
    by_position = sorted(range(len(regions)), key=lambda k: (boxes[k][1], boxes[k][0]))
    headers = [k for k in by_position if regions[k].label == "header"]
    footers = [k for k in by_position if regions[k].label == "footer"]
    body = [k for k in by_position if regions[k].label not in ("header", "footer")]
    return headers + _xy_cut(body, boxes, unit) + footers
