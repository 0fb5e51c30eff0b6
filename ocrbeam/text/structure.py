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
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from . import headings as hd
from .lines import Line
from .markdown import page_markdown, same_row
from .regions import (  # noqa: F401  (assign_lines, resolve_overlaps: public)
    TEXT_LIKE,
    Region,
    assign_lines,
    regions_of,
    resolve_overlaps,
)
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
_CAPTION = re.compile(
    r"^\s*(?:table|tab\.|figure|fig\.|chart|graph|image|source|note|exhibit)\b",
    re.I,
)
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


def _left_out(lines: Sequence[Line], markup: str) -> list[Line]:
    """The lines a table's markup does not hold: each line's text counted
    as a whole (a footnote mark "1" is not found inside "83,190,556"), as
    many times as lines carry it."""
    cells = re.sub(r"<[^>]+>", " ", markup)  # not colspan="3"
    used: Counter = Counter()
    left = []
    for line in lines:
        text = html.escape(line.text)
        found = len(re.findall(rf"(?<![\w.,]){re.escape(text)}(?![\w.,])", cells))
        if used[text] < found:
            used[text] += 1
        else:
            left.append(line)
    return left


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


def _block_label(region: Region, rows: Sequence[str]) -> str:
    label = BLOCK_LABELS.get(region.label, "text")
    if (
        label in ("header", "footer")
        and rows
        and all(hd.PAGE_NUMBER.match(r) for r in rows)
    ):
        return "number"
    return label


def _shares_row(row: Sequence[Line], lines: Sequence[Line]) -> bool:
    """Another of ``lines`` sits on the same row as ``row`` (beside it)."""
    return any(
        other not in row and any(same_row(a, other) or same_row(other, a) for a in row)
        for other in lines
    )


def _header_cells(regions: Sequence[Region], body: hd.BodyStyle) -> set[int]:
    """Lines outside every layout region that look like headings and sit
    on one row with another such line: the header row of a table nothing
    found (two columns of text have layout regions; their headings are
    not judged here)."""
    loose = [ln for r in regions if r.loose for ln in r.lines]
    candidates = [ln for ln in loose if hd.looks_like_heading([ln], body)]
    cells = set()
    for a in candidates:
        for b in candidates:
            if a is not b and (same_row(a, b) or same_row(b, a)):
                cells.update((a.index, b.index))
    return cells


def _split_headings(
    region: Region, body: hd.BodyStyle, header_cells: set[int] = frozenset()
) -> list[Region]:
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
    if region.label not in TEXT_LIKE or not region.lines:
        return [region]
    pieces: list[tuple[str, list[Line]]] = []
    for row in rows_of(region.lines):
        label = "title" if hd.looks_like_heading(row, body) else "text"
        if label == "title" and (
            _shares_row(row, region.lines)
            or any(ln.index in header_cells for ln in row)
        ):
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
    cells = _header_cells(regions, body)
    pieces = [p for k in order for p in _split_headings(regions[k], body, cells)]
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
            # The cell matcher leaves out a line it cannot place in a cell
            # (a cut-off header, a cell the model did not see): such lines
            # follow the table as a paragraph, so no word read is lost.
            left = _left_out(region.lines, content)
            rows = (table_rows(content) or rows) + _row_texts(left)
            part = content or None
            if content and left:
                part += "\n\n" + page_markdown(left).strip()
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
