"""Pages the page classifier left turned, found from their text lines.

The 4-class page classifier sometimes misses a turned page (or is switched
off).  The lines then tell:

* **180 degrees.**  Every line of an upside-down page reads badly upright, so
  the text-line classifier turns it and it reads right; but the lines' boxes
  are still upside down, and the page reads bottom to top.  When most of the
  page's text (by characters) sits in lines the classifier turned, the page is
  upside down: :func:`turn_180` puts the boxes in the upright frame, where the
  reading order is right.  No second OCR pass.
* **90 or 270 degrees.**  Most of the text sits in tall, narrow boxes.  The
  engine reads the page again turned a quarter (``EngineServer``) and keeps
  that reading unless it reads clearly worse (:func:`turned_reads_as_well`).
  A page of Latin text turned a quarter reads about equally well both ways
  (PaddleOCR turns tall crops before recognising them), so a plain "better
  score" would pick by noise; the upright frame is what the boxes and the
  reading order need.  Pages of genuinely vertical text (CJK columns) keep
  their first reading: turned, their glyphs lie on their side and read far
  worse.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: A line whose box is this many times taller than wide is vertical.
_TALL = 1.5

#: The quarter-turned reading is kept when it reads at least this share as
#: well as the vertical one (sideways glyphs read far below it).
_TURNED_KEEPS = 0.9


def _chars(result: Mapping[str, Any]) -> list[int]:
    return [len((text or "").strip()) for text in result.get("rec_texts") or []]


def _share(result: Mapping[str, Any], flags: Sequence[bool]) -> float:
    """The share of the page's recognised characters in the flagged lines."""
    chars = _chars(result)
    total = sum(chars)
    if not total:
        return 0.0
    return sum(c for c, flag in zip(chars, flags, strict=False) if flag) / total


def upside_down(result: Mapping[str, Any]) -> bool:
    """Most of the text was read from lines the text-line classifier turned
    by 180 degrees (PaddleOCR's ``textline_orientation_angles``: 1 or 180)."""
    angles = result.get("textline_orientation_angles") or []
    return _share(result, [a in (1, 180) for a in angles]) > 0.5


def mostly_vertical(result: Mapping[str, Any]) -> bool:
    """Most of the text sits in boxes much taller than wide."""
    boxes = result.get("rec_boxes") or []
    tall = [
        len(box) >= 4 and (box[3] - box[1]) > _TALL * max(1.0, box[2] - box[0])
        for box in boxes
    ]
    return _share(result, tall) > 0.5


def reading_quality(result: Mapping[str, Any]) -> float:
    """How well a page read: its characters weighted by their lines' scores."""
    scores = result.get("rec_scores") or []
    return sum(c * s for c, s in zip(_chars(result), scores, strict=False))


def turned_reads_as_well(
    vertical: Mapping[str, Any], turned: Mapping[str, Any]
) -> bool:
    """Keep the page's quarter-turned reading over its vertical one: its
    lines are no longer mostly vertical and it reads nearly as well."""
    if mostly_vertical(turned):
        return False
    return reading_quality(turned) >= _TURNED_KEEPS * reading_quality(vertical)


def turn_180(result: dict[str, Any], width: int, height: int) -> dict[str, Any]:
    """``result`` with its geometry in the frame of the page turned by 180
    degrees (``width`` x ``height``, the same either way): points
    ``(x, y) -> (width - x, height - y)``, boxes likewise, and each line's
    orientation flipped (a line turned on the upside-down page is upright on
    the upright one)."""

    def point(p):
        return [width - p[0], height - p[1]]

    turned = dict(result)
    for key in ("dt_polys", "rec_polys"):
        if key in result:
            # Turning a polygon reverses its corners' reading direction; start
            # again at the new top left, as the detector lists them.
            turned[key] = [
                [point(p) for p in poly[2:] + poly[:2]] if len(poly) == 4 else
                [point(p) for p in poly]
                for poly in result[key]
            ]  # fmt: skip
    if "rec_boxes" in result:
        turned["rec_boxes"] = [
            [width - b[2], height - b[3], width - b[0], height - b[1]]
            for b in result["rec_boxes"]
        ]
    if "textline_orientation_angles" in result:
        turned["textline_orientation_angles"] = [
            {0: 1, 1: 0, 180: 0}.get(a, a)
            for a in result["textline_orientation_angles"]
        ]
    return turned
