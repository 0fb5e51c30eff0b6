from ocrbeam.text.lines import Line
from ocrbeam.text.order import reading_order


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


def test_real_detections_of_a_two_column_page_at_several_resolutions():
    """PP-OCRv5 detections of multicolumn.pdf pages at 110/150/200 dpi (saved
    from real runs): the detector merges a few lines across the gutter at some
    resolutions, which must not stop the columns from being found."""
    import json
    from pathlib import Path

    import pypdfium2 as pdfium

    from ocrbeam.text.lines import lines_from_result
    from ocrbeam.text.quality import cer

    data = Path(__file__).parent / "data"
    pdf = pdfium.PdfDocument(str(data / "multicolumn.pdf"))
    truth = [pdf[i].get_textpage().get_text_range() for i in range(2)]
    fixtures = json.loads((data / "multicolumn-detections.json").read_text())
    assert len(fixtures) == 6
    for name, det in fixtures.items():
        page = int(name.split("-p")[1][0])
        det = dict(det, rec_scores=[1.0] * len(det["rec_texts"]))
        lines = lines_from_result(det)
        ours = "\n".join(lines[i].text for i in reading_order(lines, det["height"]))
        engine = "\n".join(line.text for line in lines)
        assert cer(truth[page], ours) < 0.12, name
        assert cer(truth[page], ours) < 0.5 * cer(truth[page], engine), name
