"""A page's structure from its OCR'd lines and the layout and table models'
regions (``route: structure``): blocks in PaddleOCR-VL's ``parsing_res_list``
shape, markdown and text.

* Each line goes to the region that holds most of it (the smaller region
  when two hold it equally); lines in no region are grouped into paragraphs
  that become ``text`` blocks of their own.
* Regions are read by an XY-cut over their boxes (columns left to right,
  bands top to bottom; bands that share a gutter are merged first, so
  paragraph breaks that line up across two columns do not interleave them),
  page headers first and footers last; lines within a region by
  :func:`.order.reading_order`.
* Lines on one row (a table-of-contents entry and its page number) are
  joined with a space.
* A table region's cells come from its structure (SLANet-plus tokens and cell
  boxes), filled with the region's lines by rapid-table's matcher: HTML with
  ``rowspan``/``colspan``, as PaddleOCR-VL writes tables.
* Titles become headings (the layout model's, and short lines set larger,
  bolder or in another tone than the body: :mod:`.headings`): the level
  from their numbering (``2.1`` -> ``###``), else by rank of prominence.
* A region the layout model calls a figure but whose ink is mostly words
  is read as text; a picture keeps its image link, and the words read in
  it follow as a paragraph (no word read is left out of the markdown).
* Headers, footers and page numbers stay in the blocks and the text but
  out of the markdown.

Pure functions over plain values; rapid-table's matcher is pure numpy.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Optional

from . import headings as hd
from .lines import Line
from .markdown import page_markdown, same_row
from .order import reading_order
from .xycut import order_regions

#: CDLA region labels -> PaddleOCR-VL block labels.
BLOCK_LABELS = {
    "text": "text",
    "title": "paragraph_title",
    "figure": "image",
    "figure_caption": "figure_title",
    "table": "table",
    "table_caption": "figure_title",
    "header": "header",
    "footer": "footer",
    "reference": "reference",
    "equation": "display_formula",
}
#: Blocks kept out of the markdown body (page furniture).
FURNITURE = {"header", "footer", "number"}
_PAGE_NUMBER = re.compile(r"^\s*(?:page\s+)?[-–]?\s*\d{1,4}\s*[-–]?\s*$", re.I)
_CAPTION = re.compile(
    r"^\s*(?:table|tab\.|figure|fig\.|chart|graph|image|source|note|exhibit)\b",
    re.I,
)
#: A figure region whose ink is at least this much text is read as text.
FIGURE_TEXT_SHARE = 0.45


class Region(NamedTuple):
    """A layout region with the lines it holds (in reading order)."""

    label: str  # the layout model's (CDLA) label
    box: tuple[float, float, float, float]
    lines: tuple[Line, ...]
    table: Optional[Mapping[str, Any]] = None  # table_res_list entry


# -- overlapping regions ------------------------------------------------------

_PREFERRED = {"table": 2, "title": 1}
#: Regions that hold running text, and may swallow each other.
_TEXT_LIKE = {"text", "reference"}


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
        if outer["label"] not in _TEXT_LIKE:
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
        if all(o["label"] in _TEXT_LIKE for o in inner):
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


# -- rows, tables, headings ------------------------------------------------------


def rows_of(lines: Sequence[Line]) -> list[list[Line]]:
    """Lines (in reading order) grouped into rows, as paragraphs join them
    (:func:`.markdown.same_row`)."""
    rows: list[list[Line]] = []
    for line in lines:
        if rows and same_row(rows[-1][-1], line):
            rows[-1].append(line)
        else:
            rows.append([line])
    return rows


def _row_texts(lines: Sequence[Line]) -> list[str]:
    return [" ".join(line.text for line in row) for row in rows_of(lines)]


def table_html(table: Mapping[str, Any], lines: Sequence[Line]) -> str:
    """The table's HTML (``<table>`` with spans), its cells filled with the
    lines inside them by rapid-table's matcher."""
    import numpy as np
    from rapid_table.table_matcher import TableMatch

    tokens = list(table.get("structure") or [])
    cells = np.array(table.get("cell_box_list") or [], dtype=float).reshape(-1, 4)
    if not len(cells):
        return ""
    if lines:
        boxes = np.array([[ln.x1, ln.y1, ln.x2, ln.y2] for ln in lines], dtype=float)
        texts = [(html.escape(ln.text), ln.score) for ln in lines]
        markup = TableMatch().process_one([tokens], cells, boxes, texts)
    else:
        markup = "".join(tokens)
    found = re.search(r"<table>.*</table>", markup, re.S)
    return found.group(0) if found else ""


def table_rows(markup: str) -> list[str]:
    """A table's rows as text, its cells joined by spaces."""
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", markup, re.S):
        cells = [
            html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        text = " ".join(cell for cell in cells if cell)
        if text:
            rows.append(text)
    return rows


def _image_name(box: Sequence[float]) -> str:
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    return f"imgs/img_in_image_box_{x1}_{y1}_{x2}_{y2}.jpg"


# -- the page ----------------------------------------------------------------


class PageStructure(NamedTuple):
    """One page's blocks (``parsing_res_list``), markdown and text, the
    reading order of its lines, and its figures (relative path -> box)."""

    blocks: list[dict[str, Any]]
    markdown: str
    text: str
    order: list[int]
    figures: dict[str, tuple[float, float, float, float]]


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
            box = boxes[owner]
            cx, cy = (line.x1 + line.x2) / 2, (line.y1 + line.y2) / 2
            if not (box[0] <= cx <= box[2] and box[1] <= cy <= box[3]):
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
            regions.append(Region("text", box, tuple(paragraph)))
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


def _block_label(region: Region, rows: Sequence[str]) -> str:
    label = BLOCK_LABELS.get(region.label, "text")
    if (
        label in ("header", "footer")
        and rows
        and all(_PAGE_NUMBER.match(r) for r in rows)
    ):
        return "number"
    return label


def _shares_row(row: Sequence[Line], lines: Sequence[Line]) -> bool:
    """Another of ``lines`` sits on the same row as ``row`` (beside it)."""
    return any(
        other not in row and any(same_row(a, other) or same_row(other, a) for a in row)
        for other in lines
    )


def _split_headings(region: Region, body: hd.BodyStyle) -> list[Region]:
    """A text region cut at the rows set as headings (promoted to
    ``title`` pieces); a ``title`` region that cannot be a heading (a list
    item, a lead-in ending with a colon, a long sentence) becomes text."""
    if region.label == "title":
        text = " ".join(ln.text for ln in region.lines)
        if hd.could_be_heading(text):
            return [region]
        return [region._replace(label="text")]
    if region.label == "header":
        # A page's first heading set large at the top is often taken for a
        # running head; running heads are set small.
        rows = rows_of(region.lines)
        if len(rows) == 1 and hd.row_prominence(rows[0], body) >= 1.25:
            if hd.looks_like_heading(rows[0], body):
                return [region._replace(label="title")]
        return [region]
    if region.label in ("table_caption", "figure_caption"):
        # A caption names its table or figure; what the model took for one
        # without doing so (a page's title, the paragraph over a table) is
        # text, and may hold a heading.
        text = " ".join(ln.text for ln in region.lines)
        if _CAPTION.match(text):
            return [region]
        region = region._replace(label="text")
    if region.label not in _TEXT_LIKE or not region.lines:
        return [region]
    pieces: list[tuple[str, list[Line]]] = []
    for row in rows_of(region.lines):
        label = "title" if hd.looks_like_heading(row, body) else "text"
        if label == "title" and _shares_row(row, region.lines):
            label = "text"  # a table's header cell, not a heading
        if pieces and pieces[-1][0] == label:
            previous = pieces[-1][1][-1]
            # Two heading rows make one heading only when they follow closely.
            close = row[0].y1 - previous.y2 < 0.8 * previous.height
            if label == "text" or close:
                pieces[-1][1].extend(row)
                continue
        pieces.append((label, list(row)))
    if len(pieces) == 1 and pieces[0][0] == region.label:
        return [region]
    return [
        Region(
            label,
            (
                min(ln.x1 for ln in lines),
                min(ln.y1 for ln in lines),
                max(ln.x2 for ln in lines),
                max(ln.y2 for ln in lines),
            ),
            tuple(lines),
        )
        for label, lines in pieces
    ]


def page_structure(
    result: Mapping[str, Any], lines: Sequence[Line], page_width: int
) -> PageStructure:
    """Blocks, markdown and text of one page from its OCR result (with
    ``layout_det_res`` and ``table_res_list``) and its lines."""
    regions = regions_of(result, lines)
    body = hd.body_style(lines)
    order = order_regions(regions, body.height)
    pieces = [p for k in order for p in _split_headings(regions[k], body)]
    titles = [
        (" ".join(_row_texts(p.lines)), p.lines)
        for p in pieces
        if p.label == "title" and p.lines
    ]
    levels = iter(hd.heading_levels(titles, body))
    blocks, markdown, text, line_order = [], [], [], []
    figures: dict[str, tuple[float, float, float, float]] = {}
    ordered_blocks = 0
    for position, region in enumerate(pieces):
        rows = _row_texts(region.lines)
        label = _block_label(region, rows)
        line_order.extend(line.index for line in region.lines)
        content = "\n".join(rows)
        part = None
        if label == "table" and region.table is not None:
            content = table_html(region.table, region.lines)
            rows = table_rows(content) or rows
            part = content or None
        elif label == "image":
            name = _image_name(region.box)
            figures[name] = region.box
            share = round(100 * (region.box[2] - region.box[0]) / max(1, page_width))
            part = (
                f'<div style="text-align: center;"><img src="{name}" alt="Image" '
                f'width="{max(1, min(100, share))}%" /></div>'
            )
            if rows:
                # The words read inside a picture (a chart's labels, a
                # screenshot's text) follow it as a paragraph, one row a line.
                part += "\n\n" + "  \n".join(html.escape(r) for r in rows)
        elif label == "paragraph_title" and region.lines:
            title = " ".join(rows)
            level = next(levels)
            label = "doc_title" if level == 1 else label
            part = "#" * level + " " + title
            content = title
        elif label not in FURNITURE and region.lines:
            part = page_markdown(list(region.lines)).strip()
        if part:
            markdown.append(part)
        text.extend(rows)
        blocks.append(
            {
                "block_label": label,
                "block_content": content,
                "block_bbox": [round(v, 1) for v in region.box],
                "block_id": position,
                "block_order": None if label in FURNITURE else ordered_blocks,
            }
        )
        ordered_blocks += label not in FURNITURE
    return PageStructure(
        blocks=blocks,
        markdown="\n\n".join(markdown) + "\n" if markdown else "",
        text="\n".join(text),
        order=line_order,
        figures=figures,
    )
