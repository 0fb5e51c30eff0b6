"""A page's regions with the lines they hold (``route: structure``): the
layout model's regions made consistent, each OCR'd line given to one, and
the lines in none grouped into paragraphs of their own.

* Duplicates and nesting among the layout model's regions are resolved
  first (:func:`resolve_overlaps`).
* A region the layout model calls a figure but whose ink is mostly words
  (``text_share``, measured by the engine) is dropped: its lines are read
  as text (or found as a table by the engine).
* Each line goes to the region that holds most of it (the smaller region
  when two hold it equally); a table holds only lines centred in it, and
  every line of a row the table holds.
* A section number the detector boxed apart stays with its title.

Pure functions over plain values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Optional

from . import headings as hd
from .lines import Line
from .markdown import same_row
from .order import reading_order

#: A figure region whose ink is at least this much text is read as text.
FIGURE_TEXT_SHARE = 0.45


class Region(NamedTuple):
    """A layout region with the lines it holds (in reading order)."""

    label: str  # the layout model's (CDLA) label
    box: tuple[float, float, float, float]
    lines: tuple[Line, ...]
    table: Optional[Mapping[str, Any]] = None  # table_res_list entry
    #: Lines of the page in no layout region, grouped here.
    loose: bool = False


# -- overlapping regions ------------------------------------------------------

_PREFERRED = {"table": 2, "title": 1}
#: Regions that hold running text, and may swallow each other.
TEXT_LIKE = {"text", "reference"}


def _inter(a: Sequence[float], b: Sequence[float]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def resolve_overlaps(regions: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The layout model's regions without duplicates and nesting.

    The model suppresses overlaps within a class only: the same paragraph
    often comes back as ``text`` and as ``reference``, and a region the size
    of the page around the paragraphs it also found.  Read as they are, such
    regions split paragraphs and scramble the order.  So:

    * two regions that are mostly the same box (intersection over the smaller
      at least 0.8, areas within 1.5x): the better scored one stays;
    * a text-like region (text, reference) around others: when they are all
      text-like the container stays and they go (its lines read as one
      block); when one is a table, figure, title or caption, the container
      goes (its other lines become paragraphs of their own).
    """
    # Of two regions on the same box, a table or a title outlives a better
    # scored equation, header or text (the model often labels a borderless
    # table an equation too, and a page's title a header).
    keep = sorted(
        regions,
        key=lambda r: (-_PREFERRED.get(r["label"], 0), -float(r.get("score") or 0.0)),
    )
    boxes = {id(r): r["coordinate"] for r in keep}
    kept: list[Mapping[str, Any]] = []
    for region in keep:
        box = boxes[id(region)]
        duplicate = any(
            _inter(box, boxes[id(o)]) >= 0.8 * min(_area(box), _area(boxes[id(o)]))
            and max(_area(box), _area(boxes[id(o)]))
            <= 1.5 * min(_area(box), _area(boxes[id(o)]))
            for o in kept
        )
        if not duplicate:
            kept.append(region)
    dropped: set[int] = set()
    for outer in kept:
        if outer["label"] not in TEXT_LIKE:
            continue
        box = boxes[id(outer)]
        inner = [
            o
            for o in kept
            if o is not outer
            and id(o) not in dropped
            and _inter(box, boxes[id(o)]) >= 0.8 * _area(boxes[id(o)])
            and _area(boxes[id(o)]) < _area(box)
        ]
        if not inner:
            continue
        if all(o["label"] in TEXT_LIKE for o in inner):
            dropped.update(id(o) for o in inner)
        else:
            dropped.add(id(outer))
    return [r for r in kept if id(r) not in dropped]


# -- lines to regions -----------------------------------------------------------


def _overlap(line: Line, box: Sequence[float]) -> float:
    """The share of ``line``'s box inside ``box``."""
    own = (line.x1, line.y1, line.x2, line.y2)
    return _inter(own, box) / max(1.0, _area(own))


def _area(box: Sequence[float]) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def assign_lines(
    lines: Sequence[Line], boxes: Sequence[Sequence[float]], min_share: float = 0.3
) -> list[int]:
    """For each line, the index of the region holding most of it (at least
    ``min_share``: a line the detector drew across a narrow gutter still
    goes to one of its columns), or -1."""
    owners = []
    for line in lines:
        best, best_key = -1, None
        for i, box in enumerate(boxes):
            share = _overlap(line, box)
            if share < min_share:
                continue
            key = (round(share, 2), -_area(box))
            if best_key is None or key > best_key:
                best, best_key = i, key
        owners.append(best)
    return owners


def regions_of(result: Mapping[str, Any], lines: Sequence[Line]) -> list[Region]:
    """The page's regions with their lines; lines in no region grouped into
    paragraphs of their own (``text``)."""
    layout = [
        region
        for region in resolve_overlaps(
            (result.get("layout_det_res") or {}).get("boxes") or []
        )
        # A "figure" that is mostly words (a table, a form, a page of text
        # the model took for a picture) is read as text.
        if not (
            region["label"] == "figure"
            and float(region.get("text_share", 0.0)) >= FIGURE_TEXT_SHARE
        )
    ]
    boxes = [tuple(float(v) for v in r["coordinate"][:4]) for r in layout]
    owners = assign_lines(lines, boxes)
    tables = {
        tuple(float(v) for v in t["block_bbox"][:4]): t
        for t in result.get("table_res_list") or []
    }
    for k, (line, owner) in enumerate(zip(lines, owners, strict=True)):
        if owner >= 0 and layout[owner]["label"] == "table":
            # A table's cells hold only lines centred inside it (a caption
            # just over its top edge would be dropped by the cell matcher).
            if not line.centred_in(boxes[owner]):
                owners[k] = -1
    _rows_into_tables(lines, owners, layout, boxes)
    titled = _number_with_title(lines, owners, layout)
    regions = []
    for i, (region, box) in enumerate(zip(layout, boxes, strict=True)):
        held = [line for line, owner in zip(lines, owners, strict=True) if owner == i]
        ordered = [held[k] for k in reading_order(held)] if held else []
        ordered = _numbers_first(ordered, titled)
        if not ordered and region["label"] not in ("figure", "table"):
            continue  # a text region the OCR found nothing in
        regions.append(Region(region["label"], box, tuple(ordered), tables.get(box)))
    loose = [line for line, owner in zip(lines, owners, strict=True) if owner < 0]
    if loose:
        loose = _numbers_first([loose[k] for k in reading_order(loose)], titled)
        for paragraph in _stacks(loose):
            box = (
                min(ln.x1 for ln in paragraph),
                min(ln.y1 for ln in paragraph),
                max(ln.x2 for ln in paragraph),
                max(ln.y2 for ln in paragraph),
            )
            regions.append(Region("text", box, tuple(paragraph), loose=True))
    return regions


def _rows_into_tables(
    lines: Sequence[Line],
    owners: list[int],
    layout: Sequence[Mapping[str, Any]],
    boxes: Sequence[Sequence[float]],
) -> None:
    """A line on a row whose other pieces a table holds, within the table's
    width, is a cell of that row (a header row the table's box cut off),
    not a paragraph or a heading of its own."""
    for k, line in enumerate(lines):
        if owners[k] >= 0 and layout[owners[k]]["label"] == "table":
            continue
        for j, other in enumerate(lines):
            owner = owners[j]
            if owner < 0 or layout[owner]["label"] != "table":
                continue
            box = boxes[owner]
            inside = box[0] <= (line.x1 + line.x2) / 2 <= box[2]
            if inside and (same_row(line, other) or same_row(other, line)):
                owners[k] = owner
                break


def _number_with_title(
    lines: Sequence[Line], owners: list[int], layout: Sequence[Mapping[str, Any]]
) -> dict[int, int]:
    """A section number the detector boxed apart (``1.2.`` before
    ``Scope``) goes where the title beside it goes, so the heading reads
    whole: the nearest line right of it on its row, a few heights away.
    Returns the pairs (line indices into ``rec_texts``: number -> title)."""
    pairs: dict[int, int] = {}
    for k, line in enumerate(lines):
        if not hd.BARE_NUMBER.match(line.text):
            continue
        beside = [
            j
            for j, other in enumerate(lines)
            if j != k
            and same_row(line, other)
            and 0 <= other.x1 - line.x2 <= 6 * line.height
            and not hd.BARE_NUMBER.match(other.text)
        ]
        if not beside:
            continue
        j = min(beside, key=lambda j: lines[j].x1)
        owner = owners[j]
        if owner < 0 or layout[owner]["label"] != "table":
            owners[k] = owner
            pairs[line.index] = lines[j].index
    return pairs


def _numbers_first(ordered: list[Line], pairs: Mapping[int, int]) -> list[Line]:
    """``ordered`` with each section number just before its title (line
    reading order may read a column of numbers apart)."""
    if not pairs:
        return ordered
    held = {ln.index for ln in ordered}
    moved = {n for n, t in pairs.items() if n in held and t in held}
    numbers = {ln.index: ln for ln in ordered if ln.index in moved}
    before = {pairs[n]: numbers[n] for n in moved}
    out = []
    for line in ordered:
        if line.index in moved:
            continue
        if line.index in before:
            out.append(before[line.index])
        out.append(line)
    return out


def _stacks(lines: Sequence[Line]) -> list[list[Line]]:
    """Lines in reading order grouped into blocks of lines stacked one under
    the other (overlapping horizontally, at most a line apart), or following
    a section number on its row (the number's title): unlike
    paragraph grouping, never joins lines side by side across a gutter."""
    stacks: list[list[Line]] = []
    for line in lines:
        if stacks:
            prev = stacks[-1][-1]
            below = prev.y2 - 0.3 * prev.height <= line.y1 <= prev.y2 + prev.height
            overlap = min(prev.x2, line.x2) - max(prev.x1, line.x1) > 0
            numbered = hd.BARE_NUMBER.match(prev.text) and same_row(prev, line)
            if (below and overlap) or numbered:
                stacks[-1].append(line)
                continue
        stacks.append([line])
    return stacks
