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


def zero_page_pdf() -> bytes:
    """A well-formed PDF whose page tree is empty (written by hand)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [] /Count 0 >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1))
    out.write(b"startxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def blank_pdf(width_pt: float, height_pt: float, pages: int = 1) -> bytes:
    """A PDF of blank pages of the given size, written by pypdfium2."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument.new()
    for _ in range(pages):
        pdf.new_page(width_pt, height_pt)
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def huge_bilevel_png(width: int, height: int) -> bytes:
    """A 1-bit white PNG of any size, streamed: a decompression bomb in ~KBs."""
    import struct
    import zlib

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" + b"\xff" * ((width + 7) // 8)
    comp = zlib.compressobj(9)
    body = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", body)
        + chunk(b"IEND", b"")
    )


# -- scale: many files, a long PDF, a TIFF with a bad frame ---------------------


def small_files(folder: Path, count: int, text_every: int = 100, bad_every: int = 500):
    """``count`` small files in one folder, as a data lake's landing zone:
    blank scans (most), a text scan every ``text_every``, a file that is not a
    document every ``bad_every``.  Returns ``(pages, text pages, bad files)``."""
    folder.mkdir(parents=True, exist_ok=True)
    blank = encode(Image.new("L", (200, 260), 255))
    text = encode(text_image(SENTENCES[:1], width=700).convert("L"))
    bad = 0
    texts = 0
    for i in range(count):
        if bad_every and i % bad_every == bad_every - 1:
            (folder / f"f{i:05d}.pdf").write_bytes(b"not a document\n")
            bad += 1
        elif text_every and i % text_every == 0:
            (folder / f"f{i:05d}.png").write_bytes(text)
            texts += 1
        else:
            (folder / f"f{i:05d}.png").write_bytes(blank)
    return count - bad, texts, bad


def long_pdf(pages: int, text_pages: Sequence[int], size_pt: float = 200) -> bytes:
    """A PDF of ``pages`` small blank pages, with text on ``text_pages``."""
    import pypdfium2 as pdfium

    source = pdfium.PdfDocument(pdf_of_pages([SENTENCES[:2]]))
    pdf = pdfium.PdfDocument.new()
    for index in range(pages):
        if index in text_pages:
            pdf.import_pages(source, [0], index)
        else:
            pdf.new_page(size_pt, size_pt)
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def tiff_with_a_bad_frame(frames: Sequence[Sequence[str]], bad: int) -> bytes:
    """A multi-frame (LZW) TIFF whose frame ``bad`` has its data overwritten
    with garbage: its header reads, its pixels do not decode."""
    images = [text_image(lines).convert("L") for lines in frames]
    data = bytearray(
        encode(
            images[0],
            "TIFF",
            save_all=True,
            append_images=images[1:],
            compression="tiff_lzw",
        )  # fmt: skip
    )
    with Image.open(io.BytesIO(bytes(data))) as tiff:
        tiff.seek(bad)
        offsets, lengths = tiff.tag_v2[273], tiff.tag_v2[279]  # the strips
    for offset, length in zip(offsets, lengths, strict=True):
        data[offset : offset + length] = b"\xff" * length
    return bytes(data)
