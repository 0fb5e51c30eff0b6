from ocrbeam.transforms.convert import Line
from ocrbeam.transforms.layout import reading_order


def _col(prefix, x1, x2, ys, h=30):
    return [Line(f"{prefix}{i}", 1.0, x1, y, x2, y + h) for i, y in enumerate(ys)]


def _read(lines, page_height=None):
    engine_order = sorted(lines, key=lambda ln: (ln.y1, ln.x1))
    return [engine_order[i].text for i in reading_order(engine_order, page_height)]


def test_two_columns_are_read_column_by_column():
    left = _col("L", 50, 480, [100, 140, 180, 220])
    right = _col("R", 540, 970, [100, 140, 180, 220])
    assert _read(left + right) == ["L0", "L1", "L2", "L3", "R0", "R1", "R2", "R3"]


def test_paragraph_gaps_aligned_across_columns_do_not_interleave():
    # Both columns have a paragraph break at the same height.
    left = _col("L", 50, 480, [100, 140, 260, 300])
    right = _col("R", 540, 970, [100, 140, 260, 300])
    assert _read(left + right) == ["L0", "L1", "L2", "L3", "R0", "R1", "R2", "R3"]


def test_full_width_title_then_columns_then_full_width_paragraph():
    title = [Line("Title", 1.0, 50, 30, 970, 70)]
    left = _col("L", 50, 480, [120, 160, 200])
    right = _col("R", 540, 970, [120, 160, 200])
    closing = [Line("Closing", 1.0, 50, 280, 970, 310)]
    assert _read(title + left + right + closing) == [
        "Title",
        "L0",
        "L1",
        "L2",
        "R0",
        "R1",
        "R2",
        "Closing",
    ]


def test_header_and_footer_first_and_last():
    header = [Line("Running header", 1.0, 600, 20, 950, 45)]
    footer = [Line("7", 1.0, 250, 1360, 270, 1385)]
    left = _col("L", 50, 480, [150, 190, 230])
    right = _col("R", 540, 970, [150, 190, 230])
    assert _read(header + left + right + footer, page_height=1400) == [
        "Running header",
        "L0",
        "L1",
        "L2",
        "R0",
        "R1",
        "R2",
        "7",
    ]


def test_single_column_keeps_top_to_bottom_and_rows_left_to_right():
    lines = _col("A", 50, 900, [100, 140, 180]) + [
        Line("side", 1.0, 920, 140, 990, 170)
    ]
    assert _read(lines) == ["A0", "A1", "side", "A2"]


def test_empty():
    assert reading_order([]) == []
