"""Box-drawn page images (``visualize: true``).

Like the service's ``ocrImage`` (PP-OCRv5: every recognised line's polygon)
and ``outputImages`` (PaddleOCR-VL: layout blocks with their labels and reading
order), but drawn by ocrbeam from the page row's own result, so local and
remote engines give the same picture and the service never has to encode one.
They are written under ``visualize/`` (:func:`.paths.visualize_path`).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

#: Outline colours per layout label family (anything else: grey).
_LABEL_COLOURS = {
    "text": (31, 119, 180),
    "paragraph_title": (214, 39, 40),
    "doc_title": (214, 39, 40),
    "table": (44, 160, 44),
    "formula": (148, 103, 189),
    "display_formula": (148, 103, 189),
    "image": (255, 127, 14),
    "chart": (255, 127, 14),
    "header": (127, 127, 127),
    "footer": (127, 127, 127),
}
JPEG_QUALITY = 80


def _open_rgb(png: bytes):
    from PIL import Image

    with Image.open(io.BytesIO(png)) as img:
        return img.convert("RGB")


def _jpeg(image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()


def draw_ocr(png: bytes, polygons: Sequence[Sequence[Sequence[float]]]) -> bytes:
    """The page with each recognised line's polygon outlined (JPEG)."""
    from PIL import ImageDraw

    image = _open_rgb(png)
    draw = ImageDraw.Draw(image)
    width = max(3, round(min(image.size) / 400))
    for poly in polygons:
        points = [(float(x), float(y)) for x, y in poly]
        if len(points) >= 2:
            draw.polygon(points, outline=(0, 160, 0), width=width)
    return _jpeg(image)


def draw_layout(png: bytes, blocks: Sequence[dict[str, Any]]) -> bytes:
    """The page with each layout block outlined, labelled, and numbered in
    reading order (JPEG), like the service's layout_order_res image."""
    from PIL import ImageDraw, ImageFont

    image = _open_rgb(png)
    draw = ImageDraw.Draw(image)
    width = max(2, round(min(image.size) / 400))
    font = ImageFont.load_default(size=max(12, round(min(image.size) / 50)))
    for block in blocks:
        bbox = block.get("block_bbox") or []
        if len(bbox) != 4:
            continue
        x1, y1, x2, y2 = (float(v) for v in bbox)
        label = str(block.get("block_label") or "")
        colour = _LABEL_COLOURS.get(label, (127, 127, 127))
        draw.rectangle((x1, y1, x2, y2), outline=colour, width=width)
        order = block.get("block_order")
        caption = f"{order} {label}" if order is not None else label
        draw.text((x1 + width, y1 + width), caption, fill=colour, font=font)
    return _jpeg(image)
