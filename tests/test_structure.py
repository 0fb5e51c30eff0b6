"""route: structure: layout regions, tables with their cells and spans,
figures, reading order by region; pure functions first, then the real layout
and table models on a generated page, then ``ocrbeam run``."""

from __future__ import annotations

import json

import pyarrow.dataset as ds
import pytest
from structure_page import (
    FIGURE_CAPTION,
    LEFT,
    RIGHT,
    TABLE_CAPTION,
    TITLE,
    UNRULED,
    structure_page,
)

from docs import encode
from ocrbeam.text.headings import BodyStyle, heading_levels
from ocrbeam.text.lines import Line
from ocrbeam.text.structure import (
    Region,
    assign_lines,
    order_regions,
    resolve_overlaps,
    rows_of,
    table_html,
    table_rows,
)
from ocrbeam.text.structure import _left_out as left_out

# -- pure functions -----------------------------------------------------------


def test_a_line_the_table_markup_lacks_is_left_out_though_its_text_is_inside():
    """Footnote marks "1" and "3" the cell matcher dropped are found in no
    cell: not inside "83,190,556", not in colspan="3"; a "7" it placed is."""
    markup = (
        '<table><tr><td colspan="3">EUR</td></tr>'
        "<tr><td>83,190,556</td><td>7</td><td>453</td></tr></table>"
    )
    lines = [Line(t, 0.99, 0, 0, 10, 10, k) for k, t in enumerate("1 3 7 7".split())]
    assert [ln.text for ln in left_out(lines, markup)] == ["1", "3", "7"]


def _line(text, x1, y1, x2, y2, index=-1):
    return Line(text, 0.99, x1, y1, x2, y2, index)


def test_each_line_goes_to_the_region_holding_most_of_it():
    lines = [_line("a", 10, 10, 90, 30), _line("b", 10, 200, 90, 220)]
    outer = (0, 0, 500, 500)
    inner = (0, 0, 100, 100)
    # Held fully by both: the smaller (inner) region wins; b only by outer.
    assert assign_lines(lines, [outer, inner]) == [1, 0]
    assert assign_lines(lines, [(400, 400, 500, 500)]) == [-1, -1]


def _box(label, coordinate, score=0.9):
    return {"label": label, "coordinate": list(coordinate), "score": score}


def test_overlapping_regions_are_resolved_before_lines_are_assigned():
    """The layout model suppresses overlaps per class only: a paragraph found
    as text and as reference keeps its better-scored region; a page-sized
    text region around paragraphs keeps them as one block; a text region
    around a table gives way to the table."""
    same_text = _box("text", (100, 100, 900, 300), 0.8)
    same_ref = _box("reference", (102, 104, 905, 298), 0.6)
    assert [r["label"] for r in resolve_overlaps([same_ref, same_text])] == ["text"]

    page = _box("reference", (50, 50, 1000, 1500), 0.9)
    paragraphs = [
        _box("text", (60, 60 + 300 * i, 990, 300 + 300 * i), 0.7) for i in range(3)
    ]
    assert resolve_overlaps([*paragraphs, page]) == [page]

    around = _box("text", (50, 50, 1000, 1500), 0.9)
    table = _box("table", (100, 600, 900, 900), 0.8)
    title = _box("title", (100, 60, 900, 100), 0.8)
    assert resolve_overlaps([around, table, title]) == [table, title]


def _region(label, box):
    return Region(label, box, ())


def test_regions_read_column_by_column_even_where_paragraph_breaks_line_up():
    """Two columns whose paragraphs break at the same height: a naive XY-cut
    reads them across; bands sharing the gutter are kept together."""
    regions = [
        _region("title", (50, 20, 900, 60)),
        _region("text", (50, 100, 450, 300)),  # left, first paragraph
        _region("text", (500, 100, 900, 300)),  # right, first
        _region("text", (50, 320, 450, 500)),  # left, second
        _region("text", (500, 320, 900, 500)),  # right, second
        _region("footer", (50, 1500, 900, 1530)),
        _region("header", (50, 0, 900, 15)),
    ]
    assert order_regions(regions, unit=20) == [6, 0, 1, 3, 2, 4, 5]


def test_a_three_column_back_cover_reads_column_by_column():
    """Three columns of short paragraphs at the same heights: read down each
    column in turn, never line by line across."""
    regions = [
        _region("text", (x, y, x + 250, y + 120))
        for y in (100, 260, 420)
        for x in (50, 350, 650)
    ]
    order = order_regions(regions, unit=20)
    columns = [[k for k in order if regions[k].box[0] == x] for x in (50, 350, 650)]
    assert order == [k for column in columns for k in column]
    assert all(len(column) == 3 for column in columns)


def test_a_toc_entry_and_its_page_number_are_one_row():
    lines = [
        _line("1 Introduction", 100, 100, 400, 120),
        _line("3", 900, 101, 920, 121),
        _line("2 Method", 100, 140, 300, 160),
        _line("7", 900, 141, 920, 161),
    ]
    assert [" ".join(ln.text for ln in row) for row in rows_of(lines)] == [
        "1 Introduction 3",
        "2 Method 7",
    ]


def test_heading_levels_from_numbering_else_rank_of_size():
    body = BodyStyle(height=20, size=10, weight=0.2, tone=30)

    def heading(text, height, size, weight=0.2):
        return (text, [Line(text, 0.99, 0, 0, 300, height, -1, size, weight, 30)])

    levels = heading_levels(
        [
            heading("2 Pipeline Results", 30, 15),
            heading("2.1 Reading", 20, 10),
            heading("3.2.1. Details", 20, 10),
            heading("Annual Report", 40, 20),
            heading("Summary", 28, 14),
            heading("Notes", 20, 10, weight=0.3),
        ],
        body,
    )
    assert levels == [2, 3, 4, 1, 2, 3]


def test_table_cells_are_filled_from_the_lines_inside_them():
    """rapid-table's matcher puts each line in the cell it overlaps; spans
    come from the structure tokens."""
    tokens = ["<table>", "<tr>", "<td></td>", "<td></td>", "</tr>"]
    tokens += ["<tr>", "<td", ' colspan="2"', ">", "</td>", "</tr>", "</table>"]
    table = {
        "structure": tokens,
        "cell_box_list": [[0, 0, 100, 40], [100, 0, 200, 40], [0, 40, 200, 80]],
    }
    lines = [
        _line("Name", 10, 10, 80, 30),
        _line("A<B", 110, 10, 190, 30),
        _line("spans both", 20, 50, 180, 70),
    ]
    markup = table_html(table, lines)
    assert markup == (
        "<table><tr><td>Name</td><td>A&lt;B</td></tr>"
        '<tr><td colspan="2">spans both</td></tr></table>'
    )
    assert table_rows(markup) == ["Name A<B", "spans both"]


# -- the real models ----------------------------------------------------------


@pytest.fixture(scope="module")
def structured_row():
    from ocrbeam.transforms.config import PPOCRv5Config
    from ocrbeam.transforms.handlers import PPOCRv5ModelHandler
    from ocrbeam.transforms.records import PageImage

    from ocrbeam.engines.structure import StructureSettings

    image = structure_page()
    handler = PPOCRv5ModelHandler(
        PPOCRv5Config(isolate=False),
        "t",
        cpu_threads=2,
        structure=StructureSettings(),
    )
    engine = handler.load_model()
    page = PageImage(
        "d" * 64, "mem://report.png", 0, 1, image.width, image.height, encode(image)
    )
    [outcome] = handler.run_inference([page], engine)
    return outcome


def _blocks(row):
    return json.loads(row.result_json)["parsing_res_list"]


@pytest.mark.model
@pytest.mark.structure
def test_generated_page_gives_heading_columns_tables_and_figure(structured_row):
    row = structured_row.row
    assert row.route == "structure"
    blocks = _blocks(row)
    labels = [b["block_label"] for b in blocks]
    # The title is a heading (numbered "2": level 2), first.
    assert row.markdown.startswith(f"## {TITLE}\n\n"), row.markdown[:200]
    assert labels[0] == "paragraph_title"
    # The columns in order: all of the left before any of the right.
    text = row.text
    assert text.index(LEFT[-1]) < text.index(RIGHT[0])
    assert " ".join(LEFT) in row.markdown and " ".join(RIGHT) in row.markdown
    # The ruled table: exactly its cells, the spanning one with colspan 2,
    # its caption right before it.
    tables = [b for b in blocks if b["block_label"] == "table"]
    assert len(tables) == 2
    ruled, unruled = tables
    assert ruled["block_content"] == (
        "<table><tr><td>Limit</td><td>Value</td><td>Unit</td></tr>"
        "<tr><td>PDF size</td><td>50</td><td>MB</td></tr>"
        "<tr><td>Image size</td><td>10</td><td>MB</td></tr>"
        '<tr><td>Pages</td><td colspan="2">no limit in batch runs</td></tr></table>'
    )
    before = blocks[blocks.index(ruled) - 1]
    assert before["block_label"] == "figure_title"
    assert before["block_content"] == TABLE_CAPTION
    # The unruled table: its rows and columns from the text alone.
    assert (
        unruled["block_content"]
        == "<table>"
        + "".join(
            "<tr>" + "".join(f"<td>{cell}</td>" for cell in r) + "</tr>"
            for r in UNRULED
        )
        + "</table>"
    )
    assert ruled["block_content"] in row.markdown
    # The figure: an image block linked from the markdown, written as a file,
    # its caption after it.
    [figure] = [b for b in blocks if b["block_label"] == "image"]
    after = blocks[blocks.index(figure) + 1]
    assert after["block_content"] == FIGURE_CAPTION
    [artifact] = structured_row.artifacts
    assert artifact.path.startswith("images/") and artifact.path.endswith(".jpg")
    assert artifact.data[:3] == b"\xff\xd8\xff"  # JPEG
    assert f"](../../{artifact.path})" in row.markdown or (
        f'src="../../{artifact.path}"' in row.markdown
    )
    # A table row is one line of text, cells joined by spaces.
    assert "CLIENT_HOST VARCHAR(255) localhost" in text.splitlines()


@pytest.mark.model
@pytest.mark.structure
def test_parsing_res_list_has_paddleocr_vl_shape(structured_row):
    result = json.loads(structured_row.row.result_json)
    blocks = result["parsing_res_list"]
    for i, block in enumerate(blocks):
        assert set(block) == {
            "block_label",
            "block_content",
            "block_bbox",
            "block_id",
            "block_order",
        }
        assert block["block_id"] == i and len(block["block_bbox"]) == 4
    orders = [b["block_order"] for b in blocks if b["block_order"] is not None]
    assert orders == list(range(len(orders)))
    # Beside it: the layout boxes and the OCR result as on route ocr.
    labels = {box["label"] for box in result["layout_det_res"]["boxes"]}
    assert {"title", "text", "table", "figure", "figure_caption"} <= labels
    assert result["rec_texts"] and sorted(result["reading_order"]) == sorted(
        i for i, t in enumerate(result["rec_texts"]) if t.strip()
    )


@pytest.mark.model
@pytest.mark.pipeline
@pytest.mark.structure
def test_run_with_route_structure_writes_images_and_reruns_without_duplicates(
    tmp_path,
):
    from ocrbeam.cli import main
    from ocrbeam.output import accounting

    lake = tmp_path / "lake"
    lake.mkdir()
    structure_page().save(lake / "report.pdf", resolution=150)
    out = tmp_path / "out"
    args = ["run", "--input", str(lake), "--output", str(out), "--no_progress"]
    args += ["--set", "route=structure", "--workers", "1"]
    assert main(args) == 0
    pages = ds.dataset(str(out / "pages"), format="parquet").to_table().to_pylist()
    assert [(p["route"], p["page_index"]) for p in pages] == [("structure", 0)]
    images = list((out / "images").rglob("*.jpg"))
    assert len(images) == 1
    [doc] = (out / "documents" / "markdown").glob("*.md")
    markdown = doc.read_text()
    assert '<td colspan="2">no limit in batch runs</td>' in markdown
    assert markdown.startswith(f"## {TITLE}")
    files = set(accounting.run_files(str(out), "pages"))

    assert main(args) == 0
    again = ds.dataset(str(out / "pages"), format="parquet").to_table().to_pylist()
    assert len(again) == 1 and set(accounting.run_files(str(out), "pages")) == files
    summary = json.loads((out / "_SUMMARY.json").read_text())
    assert summary["ok"] and summary["duplicate_pages"] == 0
