"""Pure functions: an engine result dict -> text, markdown, a ``PageResult``.

No Beam, no models: everything here is tested directly.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Optional

from .engine import prune_result
from .records import PageImage, PageResult

_BULLET = re.compile(r"^\s*(?:[-*•▪◦·‣]|\(?\d{1,3}[.)]|\(?[a-zA-Z][.)])\s+")
_SENTENCE_END = re.compile(r"[.!?:;)\]\"'”’]$")


class Line(NamedTuple):
    """One recognised text line with its axis-aligned box."""

    text: str
    score: float
    x1: float
    y1: float
    x2: float
    y2: float
    index: int = -1  # position in the engine's rec_texts

    @property
    def height(self) -> float:
        return max(1.0, self.y2 - self.y1)


def lines_from_result(pruned: Mapping[str, Any]) -> list[Line]:
    """Recognised lines in the engine's order (empty texts skipped)."""
    texts = pruned.get("rec_texts") or []
    scores = pruned.get("rec_scores") or [None] * len(texts)
    boxes = pruned.get("rec_boxes") or []
    lines = []
    for i, text in enumerate(texts):
        if not text or not text.strip():
            continue
        box = boxes[i] if i < len(boxes) else [0, 0, 0, 0]
        score = scores[i] if i < len(scores) and scores[i] is not None else 0.0
        lines.append(Line(text.strip(), float(score), *map(float, box[:4]), index=i))
    return lines


def _same_row(a: Line, b: Line) -> bool:
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
        if _same_row(prev, line):
            new_para = False
        if new_para:
            paragraphs.append([line])
        else:
            paragraphs[-1].append(line)
    return paragraphs


def _is_heading(paragraph: Sequence[Line], median_h: float) -> bool:
    text = " ".join(line.text for line in paragraph)
    tall = statistics.mean(line.height for line in paragraph) > 1.3 * median_h
    return tall and len(paragraph) <= 2 and len(text) <= 120 and not text.endswith(".")


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
            blocks.append("- " + _BULLET.sub("", text, count=1))
        else:
            blocks.append(text)
    return "\n\n".join(blocks) + "\n"


def page_text(lines: Sequence[Line]) -> str:
    """Recognised lines in reading order, one per line."""
    return "\n".join(line.text for line in lines)


def mean_score(lines: Sequence[Line]) -> Optional[float]:
    """Mean recognition score, None for a page without text."""
    return statistics.fmean(line.score for line in lines) if lines else None


def to_page_result(
    page: PageImage,
    raw_result: Mapping[str, Any],
    *,
    engine: str,
    model: str,
    elapsed_ms: float,
    config_hash: str,
    orientation_deg: Optional[int] = None,
    route: str = "ocr",
) -> PageResult:
    """Build the ``pages/`` row of one page from the engine's result dict.

    ``text`` and ``markdown`` follow the reading order of :mod:`.layout`;
    ``result_json`` keeps the engine's lists as they are and adds
    ``reading_order``: indices into ``rec_texts`` in reading order.
    """
    from .layout import reading_order

    pruned = prune_result(raw_result)
    engine_lines = lines_from_result(pruned)
    order = reading_order(engine_lines, page_height=page.height)
    lines = [engine_lines[i] for i in order]
    # The engine's own lists stay untouched; the order is added beside them.
    pruned["reading_order"] = [line.index for line in lines]
    return PageResult(
        doc_id=page.doc_id,
        source_uri=page.source_uri,
        page_index=page.page_index,
        page_count=page.page_count,
        width=page.width,
        height=page.height,
        engine=engine,
        model=model,
        text=page_text(lines),
        markdown=page_markdown(lines),
        result_json=json.dumps(pruned, ensure_ascii=False, separators=(",", ":")),
        line_count=len(lines),
        mean_score=mean_score(lines),
        elapsed_ms=round(elapsed_ms, 3),
        config_hash=config_hash,
        orientation_deg=orientation_deg,
        route=route,
    )


def text_layer_result(
    page: PageImage,
    lines: Sequence[tuple[str, float, float, float, float]],
    *,
    config_hash: str,
    elapsed_ms: float,
) -> PageResult:
    """The row of a page taken from its PDF text layer (no OCR).

    ``lines`` are ``(text, x1, y1, x2, y2)`` in pixels of the page rendered at
    the configured dpi; they go through the same reading order and paragraph
    grouping as OCR'd lines.  ``result_json`` uses the OCR result's key names.
    """
    raw = {
        "model_settings": {"route": "text_layer"},
        "rec_texts": [line[0] for line in lines],
        "rec_scores": [1.0] * len(lines),
        "rec_boxes": [[round(v, 1) for v in line[1:5]] for line in lines],
    }
    return to_page_result(
        page,
        raw,
        engine="text_layer/pdfium",
        model="pdf-text-layer",
        elapsed_ms=elapsed_ms,
        config_hash=config_hash,
        route="text_layer",
    )


def blank_result(page: PageImage, *, config_hash: str, elapsed_ms: float) -> PageResult:
    """The row of a page found blank before OCR."""
    return to_page_result(
        page,
        {"model_settings": {"route": "blank"}, "rec_texts": []},
        engine="none",
        model="none",
        elapsed_ms=elapsed_ms,
        config_hash=config_hash,
        route="blank",
    )
