"""What the page image says about its text beyond the words: how heavy each
line's strokes are (bold or regular), and how much of a region's ink is
text (a "figure" of nothing but words, or a real picture).

Measured on the page the engine holds, once per page, from the OCR'd line
boxes: plain numpy over small crops, a few milliseconds a page.  The worker
side (:mod:`ocrbeam.text.structure`) decides with these numbers; it never
sees the image.

* **Size and stroke weight** of a line: its x-height measured in the ink
  (the detector's boxes vary by a third with ascenders, descenders and
  padding), and the mean length of the dark horizontal runs across its
  glyphs (a stroke's thickness) over that x-height.  Bold type has strokes
  about 1.4-2x as thick as regular type of the same size.
* **Text share** of a region: the share of its dark pixels that lie inside
  OCR'd line boxes.  A region of words (a table, a form, a page the layout
  model took for a picture) is almost all text; a photograph, a chart's bars
  or a drawing are not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import numpy as np


def gray(image: np.ndarray) -> np.ndarray:
    """A BGR or gray page as one uint8 channel."""
    if image.ndim == 2:
        return image
    return (
        0.114 * image[..., 0] + 0.587 * image[..., 1] + 0.299 * image[..., 2]
    ).astype(np.uint8)


def clip_box(page: np.ndarray, box: Sequence[float]) -> tuple[int, int, int, int]:
    """``box`` as whole pixels inside the page (edges rounded outwards)."""
    h, w = page.shape[:2]
    return (
        max(0, int(box[0])),
        max(0, int(box[1])),
        min(w, int(box[2] + 0.999)),
        min(h, int(box[3] + 0.999)),
    )


def _ink(page: np.ndarray, x1: int, y1: int, x2: int, y2: int) -> np.ndarray:
    """Dark pixels of a part of the page against the page's paper (its 90th
    percentile), not the part's own spread: a photo's mid-tones count."""
    paper = float(np.percentile(page, 90))
    return page[y1:y2, x1:x2] < paper - 60


def _dark(crop: np.ndarray) -> np.ndarray:
    """Dark pixels of a crop: below the middle of its 5th and 95th
    percentiles (print is dark on light; an inverted line reads as its
    background, which is what a heavy face looks like too)."""
    lo, hi = np.percentile(crop, (5, 95))
    if hi - lo < 40:  # flat: no glyphs
        return np.zeros(crop.shape, dtype=bool)
    return crop < (lo + hi) / 2


def line_style(page: np.ndarray, box: Sequence[float]) -> tuple[float, float, float]:
    """``(size, weight, tone)`` of the text inside ``box``: its x-height in
    pixels (the rows where the ink is at least 40% of the densest row's: the
    body of lower-case letters, ascenders and descenders aside), its mean
    horizontal stroke thickness over that x-height, and the median grey of
    its ink (0 black; coloured headings print lighter).  Zeros without
    ink."""
    x1, y1, x2, y2 = clip_box(page, box)
    if x2 - x1 < 2 or y2 - y1 < 2:
        return 0.0, 0.0, 0.0
    crop = page[y1:y2, x1:x2]
    dark = _dark(crop)
    rows = dark.sum(axis=1)
    if not rows.any():
        return 0.0, 0.0, 0.0
    core = rows >= 0.4 * rows.max()
    size = float(core.sum())
    body = dark[core]
    # Runs start where a dark pixel follows a light one (or the edge).
    starts = int((body[:, 1:] & ~body[:, :-1]).sum() + body[:, 0].sum())
    stroke = int(body.sum()) / max(1, starts)
    tone = float(np.median(crop[dark]))
    return round(size, 1), round(stroke / max(1.0, size), 4), round(tone, 1)


def line_styles(
    page: np.ndarray, boxes: Sequence[Sequence[float]]
) -> list[tuple[float, float, float]]:
    """:func:`line_style` of each OCR'd line box."""
    return [line_style(page, box) for box in boxes]


def text_share(
    page: np.ndarray, box: Sequence[float], line_boxes: Sequence[Sequence[float]]
) -> float:
    """The share of the dark pixels in ``box`` that lie inside the line
    boxes (1.0 for a region without ink)."""
    x1, y1, x2, y2 = clip_box(page, box)
    if x2 - x1 < 2 or y2 - y1 < 2:
        return 1.0
    dark = _ink(page, x1, y1, x2, y2)
    # Rules (a table's lines, a form's fields) are not pictures: thin bands
    # of rows or columns dark across most of the region do not count.
    dark[_thin(dark.mean(axis=1) >= 0.6), :] = False
    dark[:, _thin(dark.mean(axis=0) >= 0.6)] = False
    total = int(dark.sum())
    if not total:
        return 1.0
    inside = np.zeros(dark.shape, dtype=bool)
    for lb in line_boxes:
        a, b = max(0, int(lb[0]) - x1), max(0, int(lb[1]) - y1)
        c, d = (
            min(x2 - x1, int(lb[2] + 0.999) - x1),
            min(y2 - y1, int(lb[3] + 0.999) - y1),
        )
        if c > a and d > b:
            inside[b:d, a:c] = True
    return round(int((dark & inside).sum()) / total, 4)


def _thin(marks: np.ndarray, most: int = 5) -> np.ndarray:
    """``marks`` kept only in runs of at most ``most`` (a rule's thickness,
    not a bar's)."""
    out = np.zeros_like(marks)
    start = None
    for i, mark in enumerate([*marks.tolist(), False]):
        if mark and start is None:
            start = i
        elif not mark and start is not None:
            if i - start <= most:
                out[start:i] = True
            start = None
    return out


def ruled_table(page: np.ndarray, box: Sequence[float]) -> Optional[list[float]]:
    """The box of a ruled table inside ``box``: three or more thin rules
    running across most of its width (a table's row lines), from the first
    rule to the last and as wide as they run; None when there are fewer.

    The region is looked at in strips 100 px wide, so that a scan's slight
    skew keeps each rule within a row or two of each strip."""
    x1, y1, x2, y2 = clip_box(page, box)
    if x2 - x1 < 200 or y2 - y1 < 8:
        return None
    dark = _ink(page, x1, y1, x2, y2)
    ruled_strips = []
    for left in range(0, dark.shape[1] - 99, 100):
        rows = _thin(dark[:, left : left + 100].mean(axis=1) >= 0.8)
        runs = np.flatnonzero(rows[1:] & ~rows[:-1]).tolist()
        starts = ([0] if rows[0] else []) + [i + 1 for i in runs]
        if len(starts) >= 3:
            ends = np.flatnonzero(rows).tolist()
            ruled_strips.append((left, starts[0], ends[-1]))
    strips = len(range(0, dark.shape[1] - 99, 100))
    if len(ruled_strips) < max(2, 0.6 * strips):
        return None
    last = ruled_strips[-1][0] + 100
    # The rules reach the region's edge when its last whole strip has them.
    right = x2 if last + 100 > dark.shape[1] else x1 + last
    return [
        float(x1 + ruled_strips[0][0]),
        float(y1 + min(s[1] for s in ruled_strips)),
        float(right),
        float(y1 + max(s[2] for s in ruled_strips) + 1),
    ]
