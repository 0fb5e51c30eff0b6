"""Test documents generated in code: known text rendered into images and PDFs."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

DATA = Path(__file__).parent / "data"

# Sentences of ordinary words: recognisable text whose truth is known exactly.
SENTENCES = [
    "Invoice number 4711 is due on 12 March 2026",
    "The quick brown fox jumps over the lazy dog",
    "Apache Beam runs pipelines on many engines",
    "Total amount payable: 1234.56 EUR",
    "Please keep this receipt for your records",
    "Optical character recognition at data lake scale",
    "Shipping address: 221B Baker Street, London",
    "Questions? Write to support at example dot com",
]


def font(size: int = 32) -> ImageFont.FreeTypeFont:
    """Pillow's bundled scalable font: no system fonts needed."""
    return ImageFont.load_default(size=size)


def text_image(
    lines: Sequence[str],
    *,
    size: int = 32,
    width: int = 1100,
    margin: int = 40,
    line_gap: float = 1.8,
) -> Image.Image:
    """Black text on white, one line of ``lines`` per row."""
    height = int(2 * margin + len(lines) * size * line_gap)
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    f = font(size)
    for i, line in enumerate(lines):
        draw.text((margin, margin + i * size * line_gap), line, fill="black", font=f)
    return img


def encode(img: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def pdf_of_pages(pages: Sequence[Sequence[str]], *, size: int = 32) -> bytes:
    """A (raster) PDF with one page per entry of ``pages``, at 100 dpi."""
    images = [text_image(lines, size=size) for lines in pages]
    return encode(
        images[0], "PDF", save_all=True, append_images=images[1:], resolution=100.0
    )


def multiframe_tiff(pages: Sequence[Sequence[str]]) -> bytes:
    images = [text_image(lines) for lines in pages]
    return encode(images[0], "TIFF", save_all=True, append_images=images[1:])
