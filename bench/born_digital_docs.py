"""Born-digital PDFs with known structure, and their scanned twins.

Each document is written with fpdf2 as office software writes one: real
fonts, a text layer holding every word, tables drawn with rules or bands,
pictures as images.  Its truth (headings with levels, tables as HTML, blocks
in reading order, the markdown) is recorded as it is drawn, as
bench/structure_docs.py does for scans.  From the same drawing:

* :func:`scanned`: the pages rendered and scanned (skew, blur, noise, JPEG),
  as an image-only PDF: the scanned twin;
* :func:`with_poor_layer`: that scan with a text layer in which about a
  third of the words are misread, as an archive tool's OCR leaves, drawn
  invisibly over the image or (``under``) hidden beneath it;
* :func:`without_unicode`: the born-digital PDF with its fonts' Unicode
  maps removed (glyphs drawn, their characters unknown).

Kinds: ``report`` (title, numbered headings, a ruled table with a spanning
header, a picture with its caption), ``paper`` (two columns, unnumbered
headings), ``statement`` (a letterhead and a banded table of many rows),
``handbook`` (headings by size, bullet lists, a key/value table without
rules); ``documents(background=True)`` draws each page over a page-sized
picture, as slide and brochure exports do.  Each kind has a tune half (the
core fonts Helvetica and Times, one vocabulary) and a held-out half (DejaVu
Sans and Source Serif Pro embedded, other words, other seeds); nothing was
tuned on the held-out half.

    from bench.born_digital_docs import documents
    for doc in documents():
        doc.pdf, doc.headings, doc.tables, doc.truth_markdown
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from bench.structure_docs import _HELD_OUT_WORDS, _TUNE_WORDS
from bench.structure_metrics import cells_html

KINDS = ("report", "paper", "statement", "handbook")
#: A4 in points.
_W, _H = 595.0, 842.0
_MARGIN = 56.0

_TUNE = {"faces": ("helvetica", "times"), "words": _TUNE_WORDS, "seed": "tune"}
_HELD_OUT = {
    "faces": ("dejavu-sans", "source-serif"),
    "words": _HELD_OUT_WORDS,
    "seed": "held-out",
}
#: Embedded faces: (package, folder, regular file, bold file).
_TTF = {
    "dejavu-sans": ("cv2", "qt/fonts", "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
    "source-serif": ("font_source_serif_pro", "files",
                     "SourceSerifPro-Regular.ttf", "SourceSerifPro-Bold.ttf"),
}  # fmt: skip


@dataclass
class Document:
    """One born-digital document, its truth, and the lines drawn."""

    name: str
    kind: str
    split: str
    pdf: bytes = b""
    headings: list = field(default_factory=list)  # [(text, level)]
    tables: list = field(default_factory=list)  # [html]
    blocks: list = field(default_factory=list)  # block texts in reading order
    markdown: list = field(default_factory=list)
    #: Every line drawn: (page, text, x, baseline_y, size) in points.
    lines: list = field(default_factory=list)

    @property
    def truth_markdown(self) -> str:
        return "\n\n".join(self.markdown)


class _Sheet:
    """An fpdf2 document with a text cursor that records what it draws."""

    def __init__(self, doc: Document, rng: random.Random, recipe: dict,
                 background: bool = False):  # fmt: skip
        from fpdf import FPDF

        self.doc, self.rng, self.recipe = doc, rng, recipe
        self.background = background
        self.pdf = FPDF(unit="pt", format="A4")
        self.pdf.set_auto_page_break(False)
        self.pdf.set_creator("ocrbeam bench")
        self.face = rng.choice(recipe["faces"])
        for face in recipe["faces"]:
            if face in _TTF:
                package, folder, regular, bold = _TTF[face]
                root = Path(str(resources.files(package))) / folder
                self.pdf.add_font(face, "", str(root / regular))
                self.pdf.add_font(face, "B", str(root / bold))
        self.left, self.right = _MARGIN, _W - _MARGIN
        self.page = -1
        self.new_page()

    def new_page(self) -> None:
        self.pdf.add_page()
        self.page += 1
        self.y = _MARGIN
        if self.background:
            self.pdf.image(_backdrop(self.page), 0, 0, _W, _H)

    def words(self, n: int, capital: bool = True) -> str:
        out = " ".join(self.rng.choice(self.recipe["words"]) for _ in range(n))
        return out[:1].upper() + out[1:] if capital else out

    def font(self, size: float, bold: bool = False, face=None) -> None:
        self.pdf.set_font(face or self.face, "B" if bold else "", size)

    def text(self, x: float, top: float, text: str, size: float, bold=False):
        """One line with its top at ``top``; its width."""
        self.font(size, bold)
        baseline = top + 0.8 * size
        self.pdf.text(x, baseline, text)
        self.doc.lines.append((self.page, text, x, baseline, size))
        return self.pdf.get_string_width(text)

    def wrap(self, text: str, size: float, width: float, bold=False) -> list[str]:
        self.font(size, bold)
        lines, line = [], []
        for word in text.split():
            if line and self.pdf.get_string_width(" ".join([*line, word])) > width:
                lines.append(" ".join(line))
                line = []
            line.append(word)
        return lines + ([" ".join(line)] if line else [])

    def record(self, text: str, markdown: str | None = None) -> None:
        self.doc.blocks.append(text)
        self.doc.markdown.append(markdown or text)

    def heading(self, text: str, level: int, size: float, bold=True) -> None:
        self.y += 0.7 * size
        self.text(self.left, self.y, text, size, bold)
        self.y += 1.5 * size
        self.doc.headings.append((text, level))
        self.record(text, "#" * level + " " + text)

    def paragraph(self, n_words: int, size: float, x=None, width=None) -> str:
        x = self.left if x is None else x
        width = width or self.right - self.left
        text = self.words(n_words) + "."
        for line in self.wrap(text, size, width):
            self.text(x, self.y, line, size)
            self.y += 1.4 * size
        self.y += 0.6 * size
        self.record(text)
        return text

    def bullets(self, items: list[str], size: float) -> None:
        for item in items:
            self.text(self.left + size, self.y, "-", size)
            self.text(self.left + 2.2 * size, self.y, item, size)
            self.y += 1.5 * size
            self.record(item, "- " + item)
        self.y += 0.5 * size

    def table(self, rows, size: float, style: str = "ruled", widths=None) -> None:
        """``rows``: lists of cells, each ``text`` or ``(text, rowspan,
        colspan)``; None for a grid place a span covers."""
        pdf = self.pdf
        ncols = max(len(r) for r in rows)
        usable = self.right - self.left
        widths = widths or [usable / ncols] * ncols
        height = 1.9 * size
        cells = []
        y = self.y
        pdf.set_line_width(0.8)
        for r, row in enumerate(rows):
            if style == "zebra" and r % 2 == 1:
                pdf.set_fill_color(228, 232, 238)
                pdf.rect(self.left, y, usable, height, style="F")
            x = self.left
            for c, cell in enumerate(row):
                if cell is None:
                    x += widths[c]
                    continue
                text, rs, cs = cell if isinstance(cell, tuple) else (cell, 1, 1)
                w, h = sum(widths[c : c + cs]), rs * height
                if style == "ruled":
                    pdf.rect(x, y, w, h)
                self.text(x + 0.4 * size, y + 0.45 * size, text, size, bold=r == 0)
                cells.append({"row": r, "col": c, "rowspan": rs, "colspan": cs,
                              "text": text})  # fmt: skip
                x += w
            if style != "ruled" and r == 0:
                pdf.line(self.left, y + height, self.right, y + height)
            y += height
        self.y = y + 1.2 * size
        markup = cells_html(cells, len(rows))
        self.doc.tables.append(markup)
        self.doc.markdown.append(markup)

    def picture(self, height: float, size: float) -> None:
        """A picture without words (a drawn chart), then its caption."""
        from PIL import Image, ImageDraw

        w, h = round((self.right - self.left) * 2), round(height * 2)
        image = Image.new("RGB", (w, h), (246, 246, 240))
        draw = ImageDraw.Draw(image)
        bars = self.rng.randint(4, 8)
        for k in range(bars):
            top = self.rng.uniform(0.15, 0.85) * h
            x0 = (k + 0.3) * w / bars
            draw.rectangle((x0, top, x0 + 0.5 * w / bars, h - 6),
                           fill=(60 + 20 * k, 110, 180 - 10 * k))  # fmt: skip
        draw.line((4, h - 6, w - 4, h - 6), fill=(30, 30, 30), width=3)
        draw.line((6, 4, 6, h - 6), fill=(30, 30, 30), width=3)
        self.pdf.image(image, self.left, self.y, self.right - self.left, height)
        self.y += height + 0.6 * size
        caption = f"Figure {self.rng.randint(1, 9)}: {self.words(6, False)}"
        self.text(self.left, self.y, caption, size * 0.9)
        self.y += 2.0 * size
        self.record(caption)

    def page_number(self, size: float) -> None:
        """Page furniture: not part of the truth."""
        self.font(size)
        number = str(self.page + 1)
        self.pdf.text((_W - self.pdf.get_string_width(number)) / 2, _H - 30, number)

    def finish(self) -> None:
        self.doc.pdf = bytes(self.pdf.output())


def _backdrop(seed: int):
    """A pale page-sized picture: a wash with soft bands, no words."""
    import numpy as np
    from PIL import Image

    h, w = 842, 595
    y = np.linspace(0, 1, h)[:, None]
    x = np.linspace(0, 1, w)[None, :]
    wash = 238 + 12 * np.sin(6 * x + 3 * y + seed) * np.cos(4 * y)
    rgb = np.stack([wash, wash + 4, wash - 6], axis=-1).clip(0, 255)
    return Image.fromarray(rgb.astype(np.uint8))


def _report(sheet: _Sheet, rng) -> None:
    body = rng.choice((10, 10.5, 11))
    sheet.heading(sheet.words(rng.randint(3, 6)), 1, body * 2.0)
    sheet.paragraph(rng.randint(30, 45), body)
    sheet.heading(f"1 {sheet.words(2)}", 2, body * 1.45)
    sheet.paragraph(rng.randint(40, 60), body)
    sheet.heading(f"1.1 {sheet.words(3)}", 3, body * 1.2)
    sheet.paragraph(rng.randint(25, 40), body)
    header = [sheet.words(1), (sheet.words(1), 1, 2), None, sheet.words(1)]
    rows = [header, [sheet.words(1), "min", "max", sheet.words(1)]]
    for _ in range(rng.randint(3, 5)):
        rows.append([sheet.words(1), str(rng.randint(1, 99)),
                     str(rng.randint(100, 999)), sheet.words(1, False)])  # fmt: skip
    sheet.table(rows, body)
    sheet.heading(f"2 {sheet.words(2)}", 2, body * 1.45)
    sheet.picture(150, body)
    sheet.paragraph(rng.randint(20, 35), body)
    sheet.page_number(body * 0.9)


def _paper(sheet: _Sheet, rng) -> None:
    body = rng.choice((9, 9.5, 10))
    title = sheet.words(rng.randint(4, 7))
    sheet.font(body * 1.9, True)
    width = sheet.pdf.get_string_width(title)
    sheet.text((_W - width) / 2, sheet.y, title, body * 1.9, True)
    sheet.y += 3.0 * body
    sheet.doc.headings.append((title, 1))
    sheet.record(title, "# " + title)
    gutter = 20.0
    col = (sheet.right - sheet.left - gutter) / 2
    top = sheet.y
    for x in (sheet.left, sheet.left + col + gutter):
        sheet.y = top
        for _ in range(2):
            name = sheet.words(rng.randint(1, 3))
            sheet.y += 0.7 * body
            sheet.text(x, sheet.y, name, body * 1.25, True)
            sheet.y += 1.6 * body
            sheet.doc.headings.append((name, 2))
            sheet.record(name, "## " + name)
            for _ in range(2):
                sheet.paragraph(rng.randint(35, 55), body, x=x, width=col)
    sheet.page_number(body * 0.9)


def _statement(sheet: _Sheet, rng) -> None:
    body = rng.choice((9, 10))
    name = sheet.words(2) + " Ltd"
    sheet.text(sheet.left, sheet.y, name, body * 1.8, True)
    sheet.y += 2.6 * body
    sheet.doc.headings.append((name, 1))
    sheet.record(name, "# " + name)
    sheet.paragraph(rng.randint(12, 20), body)
    title = "Statement of " + sheet.words(1, False)
    sheet.heading(title, 2, body * 1.4)
    rows = [["Date", "Description", "Reference", "Amount"]]
    for _ in range(rng.randint(10, 16)):
        rows.append([f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.2026",
                     sheet.words(rng.randint(2, 3)), f"R{rng.randint(1000, 9999)}",
                     f"{rng.randint(1, 9999)}.{rng.randint(0, 99):02d}"])  # fmt: skip
    usable = sheet.right - sheet.left
    widths = [usable * w for w in (0.18, 0.46, 0.18, 0.18)]
    sheet.table(rows, body, style="zebra", widths=widths)
    sheet.paragraph(rng.randint(15, 25), body)
    sheet.page_number(body * 0.9)


def _handbook(sheet: _Sheet, rng) -> None:
    body = rng.choice((10, 11))
    sheet.heading(sheet.words(rng.randint(2, 4)), 1, body * 2.2)
    for _ in range(2):
        sheet.heading(sheet.words(rng.randint(2, 4)), 2, body * 1.5)
        sheet.paragraph(rng.randint(25, 40), body)
        sheet.bullets([sheet.words(rng.randint(3, 7)) for _ in range(3)], body)
    sheet.heading(sheet.words(2), 2, body * 1.5)
    rows = [["Setting", "Value"]]
    rows += [[sheet.words(1), sheet.words(rng.randint(1, 3), False)] for _ in range(4)]
    sheet.table(rows, body, style="unruled", widths=[150.0, 200.0])
    sheet.page_number(body * 0.9)


_MAKERS = {"report": _report, "paper": _paper, "statement": _statement,
           "handbook": _handbook}  # fmt: skip


def documents(per_split: int = 2, only=None, background=False) -> list[Document]:
    """``per_split`` documents of each kind in each split (``only``: kinds;
    ``background``: each page over a page-sized picture)."""
    docs = []
    for split, recipe in (("tune", _TUNE), ("held-out", _HELD_OUT)):
        for kind in only or KINDS:
            for n in range(per_split):
                rng = random.Random(f"{recipe['seed']}-{kind}-{n}")
                doc = Document(f"{kind}-{split}-{n}", kind, split)
                sheet = _Sheet(doc, rng, recipe, background)
                _MAKERS[kind](sheet, rng)
                sheet.finish()
                docs.append(doc)
    return docs


def _rendered(pdf: bytes, dpi: int) -> list:
    import pypdfium2 as pdfium

    return [
        page.render(scale=dpi / 72).to_pil().convert("RGB")
        for page in pdfium.PdfDocument(pdf)
    ]


def _image_pdf(images: list, dpi: int) -> bytes:
    buf = io.BytesIO()
    images[0].save(buf, format="PDF", save_all=True, append_images=images[1:],
                   resolution=float(dpi))  # fmt: skip
    return buf.getvalue()


def scanned(doc: Document, dpi: int = 150, noise: bool = True) -> bytes:
    """The document printed and scanned: an image-only PDF (``noise``:
    skew, blur, sensor noise and JPEG as bench/scanned_pages.py scans)."""
    from PIL import Image

    from bench.scanned_pages import _scan

    images = _rendered(doc.pdf, dpi)
    if noise:
        rng = random.Random(f"scan-{doc.name}")
        images = [
            Image.open(io.BytesIO(_scan(image, rng, dpi))).convert("RGB")
            for image in images
        ]
    return _image_pdf(images, dpi)


def _misread(word: str, rng: random.Random) -> str:
    swaps = {"o": "0", "l": "1", "e": "c", "a": "o", "i": "l", "m": "rn", "n": "h"}
    letters = list(word)
    places = [k for k, ch in enumerate(letters) if ch.lower() in swaps]
    if not places:
        return word + rng.choice(".,'")
    k = rng.choice(places)
    letters[k] = swaps[letters[k].lower()]
    return "".join(letters)


def with_poor_layer(
    doc: Document, share: float = 0.33, dpi: int = 150, under: bool = False
) -> bytes:
    """The scanned twin with a text layer in which ``share`` of the words
    are misread: invisible over each page image, or (``under``) drawn
    beneath it, hidden by it."""
    from fpdf import FPDF
    from fpdf.enums import TextMode
    from PIL import Image

    scan = scanned(doc, dpi)
    import pypdfium2 as pdfium

    images = [
        page.render(scale=dpi / 72).to_pil().convert("RGB")
        for page in pdfium.PdfDocument(scan)
    ]
    rng = random.Random(f"layer-{doc.name}")
    pdf = FPDF(unit="pt", format="A4")
    pdf.set_auto_page_break(False)
    for index, image in enumerate(images):
        pdf.add_page()
        buf = io.BytesIO()
        image.save(buf, format="JPEG", quality=85)
        if not under:
            pdf.image(Image.open(buf), 0, 0, _W, _H)
            pdf.text_mode = TextMode.INVISIBLE
        for page, text, x, baseline, size in doc.lines:
            if page != index:
                continue
            words = [_misread(w, rng) if rng.random() < share else w
                     for w in text.split()]  # fmt: skip
            pdf.set_font("helvetica", "", size)
            pdf.text(x, baseline, " ".join(words))
        pdf.text_mode = TextMode.FILL
        if under:
            pdf.image(Image.open(buf), 0, 0, _W, _H)
    return bytes(pdf.output())


def without_unicode(doc: Document) -> bytes:
    """The born-digital PDF with its fonts' Unicode maps taken out: each
    ``/ToUnicode`` key renamed, so that readers find no map for the glyphs
    (the length of the file, and so its cross-reference table, unchanged)."""
    return doc.pdf.replace(b"/ToUnicode", b"/XoUnicode")
