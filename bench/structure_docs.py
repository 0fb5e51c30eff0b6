"""Scanned-looking documents with known structure, generated in code: the
second source of truth of bench/structure_eval.py.

Eight kinds, each as a scanner would see it (bench/scanned_pages.py's skew,
blur, sensor noise and JPEG):

* ``report``: a title, sections and subsections whose level shows only in
  size and weight (numbered in some documents, not in others), paragraphs;
* ``tables``: a ruled table with a row span and a column span, a zebra
  table (shaded rows, no rules), an unruled table, a table whose cells hold
  a list or two paragraphs;
* ``spreadsheet``: a sheet exported to PDF: a title, a grid of numbers;
* ``slide``: a 16:9 slide: a big title, bullets, a small table;
* ``form``: a questionnaire with fields and check boxes under headings;
* ``brochure``: a picture with words printed over it, columns of text;
* ``multi-column``: two or three columns with headings;
* ``figure``: a bar chart with axis labels and a legend, a diagram of boxes
  with words, a screenshot of a window: their words must reach the
  markdown.

Each kind has ``tune`` documents (what structure was developed on: Arimo and
Merriweather, one vocabulary, one seed) and ``held-out`` documents (DejaVu
Sans and Source Serif, other words, other seeds) that nothing was tuned on.
The truth of each document: its headings with levels, its tables as HTML
with spans, its blocks in reading order and its markdown (words in pictures
included: they are words of the page).

    from bench.structure_docs import documents
    for doc in documents():            # 32 documents, the same every time
        doc.name, doc.kind, doc.split, doc.pages, doc.headings, doc.tables
"""

from __future__ import annotations

import html
import io
import random
from dataclasses import dataclass, field

from bench.scanned_pages import _font, _scan
from bench.structure_metrics import cells_html

KINDS = (
    "report", "tables", "spreadsheet", "slide", "form", "brochure",
    "multi-column", "figure",
)  # fmt: skip

_TUNE_WORDS = (
    "river valley harvest season market village water supply bridge road "
    "council budget school library museum garden festival weather station "
    "railway timetable ticket office museum visitors winter summer spring "
    "autumn farmers orchard apples grain storage mill bakery bread dairy "
    "milk cheese fishing boats harbour lighthouse coast tourism hotel guests"
).split()
_HELD_OUT_WORDS = (
    "network latency server cluster storage volume backup archive policy "
    "retention encryption key rotation audit trail access control account "
    "billing invoice customer contract renewal support ticket priority "
    "incident response release version upgrade migration schema database "
    "replica shard index query cache memory processor thread queue message"
).split()

_TUNE = {"faces": ("arimo", "merriweather"), "words": _TUNE_WORDS, "seed": "tune"}
_HELD_OUT = {
    "faces": ("dejavu-sans", "source-serif"),
    "words": _HELD_OUT_WORDS,
    "seed": "held-out",
}


@dataclass
class Document:
    """One generated document and its truth."""

    name: str
    kind: str
    split: str
    pages: list = field(default_factory=list)  # [(jpeg, (width, height))]
    headings: list = field(default_factory=list)  # [(text, level)]
    tables: list = field(default_factory=list)  # [html]
    blocks: list = field(default_factory=list)  # block texts in reading order
    markdown: list = field(default_factory=list)

    @property
    def truth_markdown(self) -> str:
        return "\n\n".join(self.markdown)


class _Page:
    """A sheet with a text cursor that records what it draws as truth."""

    def __init__(self, doc: Document, rng, recipe, size=(1240, 1754), body=25):
        from PIL import Image, ImageDraw

        self.doc, self.rng, self.recipe = doc, rng, recipe
        self.image = Image.new("RGB", size, (250, 248, 242))
        self.draw = ImageDraw.Draw(self.image)
        self.width, self.height = size
        self.margin = round(0.07 * self.width)
        self.left, self.right = self.margin, self.width - self.margin
        self.y = self.margin
        self.body = body
        self.face = rng.choice(recipe["faces"])

    def font(self, px, style="regular", face=None):
        return _font(face or self.face, style, round(px))

    def words(self, n: int, capital: bool = True) -> str:
        out = " ".join(self.rng.choice(self.recipe["words"]) for _ in range(n))
        return out[:1].upper() + out[1:] if capital else out

    def text(self, x, y, text, px, style="regular", fill=(20, 20, 20)):
        self.draw.text((x, y), text, fill=fill, font=self.font(px, style))
        return self.font(px, style).getlength(text)

    def heading(self, text: str, level: int, px: float, style="bold", fill=None):
        self.y += round(0.6 * px)
        self.text(self.left, self.y, text, px, style, fill or (20, 20, 20))
        self.y += round(1.6 * px)
        self.doc.headings.append((text, level))
        self.doc.blocks.append(text)
        self.doc.markdown.append("#" * level + " " + text)

    def wrap(self, text: str, px: float, width: float, style="regular") -> list[str]:
        font = self.font(px, style)
        lines, line = [], []
        for word in text.split():
            if line and font.getlength(" ".join([*line, word])) > width:
                lines.append(" ".join(line))
                line = []
            line.append(word)
        return lines + ([" ".join(line)] if line else [])

    def paragraph(self, n_words: int, px=None, record=True) -> str:
        px = px or self.body
        text = self.words(n_words) + "."
        for line in self.wrap(text, px, self.right - self.left):
            self.text(self.left, self.y, line, px)
            self.y += round(1.45 * px)
        self.y += round(0.7 * px)
        if record:
            self.doc.blocks.append(text)
            self.doc.markdown.append(text)
        return text

    def bullets(self, items: list[str], marker="•", checks=None, px=None):
        px = px or self.body
        for k, item in enumerate(items):
            x = self.left + px
            if checks is not None:
                box = (x, self.y + 0.15 * px, x + 0.85 * px, self.y + px)
                self.draw.rectangle(box, outline=(20, 20, 20), width=2)
                if checks[k]:
                    self.draw.line(box, fill=(20, 20, 20), width=2)
                    self.draw.line(
                        (box[0], box[3], box[2], box[1]), fill=(20, 20, 20), width=2
                    )
                md = ("- [x] " if checks[k] else "- [ ] ") + item
            else:
                self.text(x, self.y, marker, px)
                md = ("- " if marker == "•" else f"{marker} ") + item
            self.text(x + 1.5 * px, self.y, item, px)
            self.y += round(1.6 * px)
            self.doc.blocks.append(item)
            self.doc.markdown.append(md)
        self.y += round(0.5 * px)

    def table(self, rows, style="ruled", px=None, widths=None, header_bold=True):
        """``rows``: lists of cells, each ``text`` (a string, or a list of
        lines: a list or paragraphs in the cell) or ``(text, rowspan,
        colspan)``; None for a grid place a span covers."""
        px = px or self.body
        ncols = max(len(r) for r in rows)
        usable = self.right - self.left
        widths = widths or [usable / ncols] * ncols
        line_h = round(1.45 * px)
        heights = []
        for row in rows:
            n = 1
            for cell in row:
                if cell is None:
                    continue
                text = cell[0] if isinstance(cell, tuple) else cell
                n = max(n, len(text) if isinstance(text, list) else 1)
            heights.append(n * line_h + round(0.9 * px))
        top = self.y
        cells = []
        y = top
        for r, row in enumerate(rows):
            x = self.left
            if style == "zebra" and r % 2 == 1:
                self.draw.rectangle(
                    (self.left, y, self.right, y + heights[r]), fill=(222, 222, 222)
                )
            for c, cell in enumerate(row):
                if cell is None:
                    x += widths[c]
                    continue
                text, rs, cs = cell if isinstance(cell, tuple) else (cell, 1, 1)
                w = sum(widths[c : c + cs])
                h = sum(heights[r : r + rs])
                if style in ("ruled", "grid"):
                    colour = (150, 150, 150) if style == "grid" else (40, 40, 40)
                    self.draw.rectangle((x, y, x + w, y + h), outline=colour, width=2)
                lines = text if isinstance(text, list) else [text]
                bold = header_bold and r == 0
                for k, line in enumerate(lines):
                    self.text(x + 0.4 * px, y + 0.45 * px + k * line_h, line, px,
                              "bold" if bold else "regular")  # fmt: skip
                cells.append({"row": r, "col": c, "rowspan": rs, "colspan": cs,
                              "text": " ".join(lines)})  # fmt: skip
                x += w
            if style == "unruled" and r == 0:
                yy = y + heights[0] - 4
                self.draw.line(
                    (self.left, yy, self.right, yy), fill=(40, 40, 40), width=2
                )
            y += heights[r]
        self.y = y + round(1.2 * px)
        markup = cells_html(cells, len(rows))
        self.doc.tables.append(markup)
        self.doc.markdown.append(markup)

    def finish(self):
        jpeg = _scan(self.image, self.rng, 150)
        self.doc.pages.append((jpeg, self.image.size))


def _report(doc, rng, recipe):
    page = _Page(doc, rng, recipe, body=rng.choice((22, 24, 26)))
    numbered = rng.random() < 0.5
    page.heading(page.words(3), 1, page.body * 2.0)
    page.paragraph(rng.randint(25, 45))
    for s in range(1, 3):
        title = page.words(rng.randint(1, 3))
        page.heading(f"{s} {title}" if numbered else title, 2, page.body * 1.45)
        page.paragraph(rng.randint(30, 50))
        for sub in range(1, rng.randint(2, 3)):
            title = page.words(rng.randint(2, 4))
            text = f"{s}.{sub} {title}" if numbered else title
            # Level 3 only by weight: body size, bold.
            page.heading(text, 3, page.body * 1.08, "bold")
            page.paragraph(rng.randint(20, 40))
    page.finish()


def _tables(doc, rng, recipe):
    page = _Page(doc, rng, recipe, body=22)
    page.heading(page.words(3), 1, 40)
    w = page.words
    head = [w(1), w(1), w(2)]
    page.paragraph(rng.randint(8, 14))
    page.table([
        head,
        [(w(1), 2, 1), w(2), f"{rng.randint(10, 99)}"],
        [None, w(1), f"{rng.randint(10, 99)}"],
        [w(1), (w(3), 1, 2), None],
    ], "ruled")  # fmt: skip
    page.paragraph(rng.randint(8, 14))
    page.table([[w(1), w(1), w(1), w(1)]] + [
        [w(1), str(rng.randint(100, 999)), str(rng.randint(10, 99)), w(1)]
        for _ in range(4)
    ], "zebra")  # fmt: skip
    page.paragraph(rng.randint(8, 14))
    page.table([[w(1), w(1), w(1)]] + [
        [w(2), str(rng.randint(1, 9)) + "." + str(rng.randint(0, 9)), w(1)]
        for _ in range(4)
    ], "unruled")  # fmt: skip
    page.paragraph(rng.randint(8, 14))
    page.table([
        [w(1), w(1)],
        [w(2), ["• " + w(2, False), "• " + w(2, False), "• " + w(1, False)]],
        [w(1), [w(4) + ".", w(3) + "."]],
    ], "ruled", widths=[300, page.right - page.left - 300])  # fmt: skip
    page.finish()


def _spreadsheet(doc, rng, recipe):
    page = _Page(doc, rng, recipe, body=20)
    title = page.words(3)
    page.heading(title, 1, 30)
    years = [str(2018 + k) for k in range(rng.randint(5, 7))]
    rows = [["Year", page.words(1), page.words(1), page.words(1)]]
    rows += [[y] + [f"{rng.randint(1, 9999):,}" for _ in range(3)] for y in years]
    page.table(rows, "grid", widths=[200] * 4)
    page.finish()


def _slide(doc, rng, recipe):
    page = _Page(doc, rng, recipe, size=(1600, 900), body=30)
    page.margin = page.left = 90
    page.y = 70
    page.heading(page.words(3), 1, 60)
    page.bullets([page.words(rng.randint(4, 7)) for _ in range(3)])
    body = [
        [page.words(1), str(rng.randint(1, 99)), str(rng.randint(1, 99))]
        for _ in range(3)
    ]
    page.table(
        [[page.words(1) for _ in range(3)], *body],
        "ruled", px=26, widths=[350, 250, 250],
    )  # fmt: skip
    page.finish()


def _form(doc, rng, recipe):
    page = _Page(doc, rng, recipe, body=24)
    page.heading(page.words(2) + " Questionnaire", 1, 42)
    for _ in range(2):
        page.heading(page.words(2), 2, 32)
        for _ in range(2):
            label = page.words(rng.randint(1, 2)) + " name"
            width = page.text(page.left, page.y, label + ":", page.body)
            rule_y = page.y + page.body * 1.1
            page.draw.line(
                (page.left + width + 20, rule_y, page.right, rule_y),
                fill=(20, 20, 20),
                width=2,
            )
            page.doc.blocks.append(label + ":")
            page.doc.markdown.append(label + ":")
            page.y += round(2.2 * page.body)
        question = page.words(rng.randint(4, 7)) + "?"
        page.text(page.left, page.y, question, page.body)
        page.y += round(1.8 * page.body)
        page.doc.blocks.append(question)
        page.doc.markdown.append(question)
        items = [page.words(1) for _ in range(3)]
        page.bullets(items, checks=[rng.random() < 0.4 for _ in items])
    page.finish()


def _picture(page, box, rng):
    """A photo-like block: a gradient with soft shapes."""
    import numpy as np
    from PIL import Image, ImageFilter

    w, h = int(box[2] - box[0]), int(box[3] - box[1])
    ys, xs = np.mgrid[0:h, 0:w]
    base = np.stack([
        60 + 80 * xs / w, 90 + 60 * ys / h, 140 - 50 * xs / w
    ], axis=-1)  # fmt: skip
    picture = Image.fromarray(base.clip(0, 255).astype("uint8"))
    from PIL import ImageDraw

    d = ImageDraw.Draw(picture)
    for _ in range(6):
        cx, cy, r = rng.randrange(w), rng.randrange(h), rng.randrange(40, 160)
        d.ellipse(
            (cx - r, cy - r, cx + r, cy + r),
            fill=tuple(rng.randrange(30, 200) for _ in range(3)),
        )
    picture = picture.filter(ImageFilter.GaussianBlur(8))
    page.image.paste(picture, (int(box[0]), int(box[1])))


def _brochure(doc, rng, recipe):
    page = _Page(doc, rng, recipe, body=24)
    page.heading(page.words(3), 1, 48)
    top = page.y
    box = (page.left, top, page.right, top + 520)
    _picture(page, box, rng)
    # Words printed over the picture, white on the photo.
    text = page.words(rng.randint(14, 22)) + "."
    y = top + 60
    for line in page.wrap(text, 34, box[2] - box[0] - 120, "bold"):
        page.text(box[0] + 60, y, line, 34, "bold", fill=(255, 255, 255))
        y += 50
    page.doc.blocks.append(text)
    page.doc.markdown.append(text)
    page.y = box[3] + 40
    _columns(page, rng, 2, headings=False)
    page.finish()


def _columns(page, rng, n, headings=True):
    gutter = 50
    width = (page.right - page.left - gutter * (n - 1)) / n
    top, left, right = page.y, page.left, page.right
    bottom = top
    for c in range(n):
        page.left = left + c * (width + gutter)
        page.right = page.left + width
        page.y = top
        for _ in range(2):
            if headings:
                page.heading(page.words(2), 2, page.body * 1.4)
            page.paragraph(rng.randint(25, 40))
        bottom = max(bottom, page.y)
    page.left, page.right, page.y = left, right, bottom


def _multi_column(doc, rng, recipe):
    page = _Page(doc, rng, recipe, body=22)
    page.heading(page.words(4), 1, 44)
    _columns(page, rng, rng.choice((2, 3)))
    page.finish()


def _figure(doc, rng, recipe):
    page = _Page(doc, rng, recipe, body=22)
    page.heading(page.words(3), 1, 40)
    page.paragraph(rng.randint(20, 30))
    # A bar chart: axis labels, values, a legend.
    x0, y0, x1, y1 = page.left + 80, page.y + 20, page.left + 800, page.y + 380
    page.draw.line((x0, y0, x0, y1), fill=(20, 20, 20), width=3)
    page.draw.line((x0, y1, x1, y1), fill=(20, 20, 20), width=3)
    words = []
    labels = [str(2020 + k) for k in range(4)]
    for k, label in enumerate(labels):
        h = rng.randint(60, 300)
        bx = x0 + 40 + k * 170
        page.draw.rectangle((bx, y1 - h, bx + 90, y1), fill=(70, 110, 190))
        value = str(rng.randint(10, 99))
        page.text(bx + 25, y1 - h - 32, value, 22)
        page.text(bx + 15, y1 + 10, label, 22)
        words += [value, label]
    legend = page.words(2)
    page.draw.rectangle((x1 + 30, y0 + 20, x1 + 60, y0 + 50), fill=(70, 110, 190))
    page.text(x1 + 75, y0 + 20, legend, 22)
    words.append(legend)
    page.doc.markdown.append(html.escape(" ".join(words)))
    page.y = y1 + 60
    caption = "Figure 1: " + page.words(4, capital=False)
    page.text(page.left, page.y, caption, 22)
    page.doc.blocks.append(caption)
    page.doc.markdown.append(caption)
    page.y += 60
    # A diagram: three boxes with a word or two each, joined by arrows.
    names = [page.words(1) for _ in range(3)]
    for k, name in enumerate(names):
        bx = page.left + 40 + k * 340
        page.draw.rectangle(
            (bx, page.y, bx + 240, page.y + 90), outline=(20, 20, 20), width=3
        )
        page.text(bx + 30, page.y + 30, name, 26)
        if k:
            page.draw.line(
                (bx - 100, page.y + 45, bx, page.y + 45), fill=(20, 20, 20), width=3
            )
    page.doc.markdown.append(" ".join(names))
    page.y += 150
    # A screenshot: a window with a title bar and lines of text.
    wx0, wy0, wx1 = page.left + 40, page.y, page.right - 40
    page.draw.rectangle(
        (wx0, wy0, wx1, wy0 + 300), fill=(235, 238, 245), outline=(90, 90, 90), width=2
    )
    page.draw.rectangle((wx0, wy0, wx1, wy0 + 44), fill=(60, 80, 130))
    title = page.words(2)
    page.text(wx0 + 16, wy0 + 8, title, 24, fill=(255, 255, 255))
    shot = [title]
    for k in range(4):
        line = page.words(rng.randint(3, 6), capital=False)
        page.text(wx0 + 30, wy0 + 70 + k * 52, line, 22)
        shot.append(line)
    page.doc.markdown.append(" ".join(shot))
    page.finish()


_MAKERS = {
    "report": _report, "tables": _tables, "spreadsheet": _spreadsheet,
    "slide": _slide, "form": _form, "brochure": _brochure,
    "multi-column": _multi_column, "figure": _figure,
}  # fmt: skip


def documents(per_split: int = 2, only=None) -> list[Document]:
    """Every kind, ``per_split`` documents in each split (``only``: those
    of these names, such as ``slide-tune-0``; each the same either way)."""
    docs = []
    for split, recipe in (("tune", _TUNE), ("held-out", _HELD_OUT)):
        for kind in KINDS:
            for k in range(per_split):
                if only is not None and f"{kind}-{split}-{k}" not in only:
                    continue
                rng = random.Random(f"{recipe['seed']}-{kind}-{k}")
                doc = Document(f"{kind}-{split}-{k}", kind, split)
                _MAKERS[kind](doc, rng, recipe)
                docs.append(doc)
    return docs


def write_pdfs(folder) -> list:
    """Each document as an image-only PDF in ``folder`` (for ``ocrbeam run``)."""
    from pathlib import Path

    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for doc in documents():
        images = [Image.open(io.BytesIO(jpeg)) for jpeg, _ in doc.pages]
        path = folder / f"{doc.name}.pdf"
        images[0].save(
            path, "PDF", save_all=True, append_images=images[1:], resolution=150.0
        )
        paths.append(path)
    return paths
