"""A generated report page with known structure: a numbered title, two
columns of text, a captioned ruled table with a spanning cell, an unruled
table, and a captioned figure (a bar chart)."""

from __future__ import annotations

from PIL import Image, ImageDraw

from docs import font

WIDTH, HEIGHT = 1275, 1650  # US letter at 150 dpi

TITLE = "2 Pipeline Results"
LEFT = [
    "Every document that enters the pipeline is",
    "split into pages, and every page is read by",
    "the engine once. Pages that fail become",
    "records of their own, so nothing is lost.",
    "The workers load each model once and keep",
    "it for the whole run.",
]
RIGHT = [
    "Results are written to Parquet files as the",
    "pages finish, and a second run skips every",
    "page that is already done. Large folders",
    "are listed lazily, which keeps the memory",
    "of the launcher small even for millions of",
    "files in one bucket.",
]
TABLE_CAPTION = "Table 1: Limits of the hosted service"
#: The ruled table: rows of (text, colspan).
RULED = [
    [("Limit", 1), ("Value", 1), ("Unit", 1)],
    [("PDF size", 1), ("50", 1), ("MB", 1)],
    [("Image size", 1), ("10", 1), ("MB", 1)],
    [("Pages", 1), ("no limit in batch runs", 2)],
]
UNRULED = [
    ["Variable", "Type", "Default"],
    ["CLIENT_HOST", "VARCHAR(255)", "localhost"],
    ["RETRY_COUNT", "INTEGER", "3"],
    ["TIMEOUT_MS", "INTEGER", "30000"],
]
FIGURE_CAPTION = "Figure 1: Pages per second by worker count"


def _column(draw, lines, x, y, size=24, gap=38):
    for i, line in enumerate(lines):
        draw.text((x, y + i * gap), line, fill="black", font=font(size))
    return y + len(lines) * gap


def structure_page() -> Image.Image:
    """The page as an RGB image."""
    page = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(page)
    draw.text((90, 90), TITLE, fill="black", font=font(48))
    bottom = max(_column(draw, LEFT, 90, 190), _column(draw, RIGHT, 680, 190))

    # Ruled table with its caption above it.
    y = bottom + 50
    draw.text((90, y), TABLE_CAPTION, fill="black", font=font(24))
    y += 50
    widths = [300, 300, 300]
    row_h = 56
    for r, row in enumerate(RULED):
        x = 90
        for text, span in row:
            w = sum(
                widths[
                    len(_cells_before(row, text)) : len(_cells_before(row, text)) + span
                ]
            )
            draw.rectangle(
                [x, y + r * row_h, x + w, y + (r + 1) * row_h], outline="black", width=2
            )
            draw.text((x + 14, y + r * row_h + 14), text, fill="black", font=font(24))
            x += w
    y += len(RULED) * row_h + 70

    # Unruled table: aligned columns, a rule under the header only.
    cols = [90, 420, 750]
    for r, row in enumerate(UNRULED):
        for c, text in enumerate(row):
            draw.text((cols[c], y + r * 44), text, fill="black", font=font(24))
        if r == 0:
            draw.line([90, y + 36, 1000, y + 36], fill="black", width=2)
    y += len(UNRULED) * 44 + 70

    # Figure: a bar chart, its caption below.
    x0, y0, x1, y1 = 300, y, 980, y + 300
    draw.line([x0, y0, x0, y1], fill="black", width=3)
    draw.line([x0, y1, x1, y1], fill="black", width=3)
    for i, h in enumerate([80, 150, 210, 270]):
        bx = x0 + 50 + i * 150
        draw.rectangle([bx, y1 - h, bx + 90, y1], fill=(70, 110, 190))
    draw.text((350, y1 + 30), FIGURE_CAPTION, fill="black", font=font(24))
    return page


def _cells_before(row, text):
    """The grid columns taken by the cells left of ``text`` in ``row``."""
    taken = []
    for cell, span in row:
        if cell == text:
            return taken
        taken.extend([cell] * span)
    return taken
