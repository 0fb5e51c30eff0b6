"""Recognised text lines with their boxes, as the engines report them."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Optional


class Line(NamedTuple):
    """One recognised text line with its axis-aligned box."""

    text: str
    score: float
    x1: float
    y1: float
    x2: float
    y2: float
    index: int = -1  # position in the engine's rec_texts
    #: x-height in pixels, stroke thickness over it and the grey of the
    #: ink, measured in the image (``rec_styles``); 0 when unknown.
    size: float = 0.0
    weight: float = 0.0
    tone: float = 0.0

    def centred_in(self, box: Sequence[float]) -> bool:
        """This line's centre lies inside ``box`` (x1, y1, x2, y2)."""
        cx, cy = (self.x1 + self.x2) / 2, (self.y1 + self.y2) / 2
        return box[0] <= cx <= box[2] and box[1] <= cy <= box[3]

    @property
    def height(self) -> float:
        return max(1.0, self.y2 - self.y1)


def lines_from_result(pruned: Mapping[str, Any]) -> list[Line]:
    """Recognised lines in the engine's order (empty texts skipped)."""
    texts = pruned.get("rec_texts") or []
    scores = pruned.get("rec_scores") or [None] * len(texts)
    boxes = pruned.get("rec_boxes") or []
    styles = pruned.get("rec_styles") or []
    lines = []
    for i, text in enumerate(texts):
        if not text or not text.strip():
            continue
        box = boxes[i] if i < len(boxes) else [0, 0, 0, 0]
        score = scores[i] if i < len(scores) and scores[i] is not None else 0.0
        style = styles[i] if i < len(styles) else (0.0, 0.0, 0.0)
        lines.append(Line(text.strip(), float(score), *map(float, box[:4]), i, *style))
    return lines


def mean_score(lines: Sequence[Line]) -> Optional[float]:
    """Mean recognition score, None for a page without text."""
    return statistics.fmean(line.score for line in lines) if lines else None
