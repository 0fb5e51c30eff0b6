"""Scanned-looking pages with known text, generated in code: an evaluation
set disjoint from every page the models or ocrbeam's settings were tuned or
calibrated on, and a calibration set made the same way from other type
faces, other words and another seed.

Each page is set as a scanner would see it: 150, 200 or 300 dpi; small print
(7-8 pt) as well as body text (9-11 pt); three type families (DejaVu Sans,
Source Serif Pro, IBM Plex Mono) with bold and italic words; ruled tables
with dense cells; identifiers and numbers (``VARCHAR(255)``,
``QIBM_DB_SQLADM``, ``3.2.2``); then turned by a slight skew, blurred a
little, speckled with sensor noise and saved as JPEG.

    from bench.scanned_pages import evaluation_pages
    for page in evaluation_pages():       # 24 pages, the same every time
        page.name, page.kind, page.dpi, page.jpeg, page.truth

The evaluation pages are set in DejaVu Sans (ships with opencv-python),
Source Serif Pro (font-source-serif-pro) and IBM Plex Mono
(fontpkg-ibm-plex-mono), with database and accounting prose and identifiers.
:func:`calibration_pages` (what bench/int8_static.py ``--calibration varied``
calibrates the int8 recogniser on) share none of that: Arimo
(fontpkg-arimo), Merriweather (fontpkg-merriweather) and JetBrains Mono
(fontpkg-jetbrains-mono), the words of the PDFs in tests/data and
identifiers made from patterns.  All from the registry (``pip install
".[test]"``); the faces are under the SIL OFL 1.1.
"""

from __future__ import annotations

import io
import random
from collections.abc import Collection
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Optional

#: Each face: (package, folder, {style: (file, variable-font instance)}).
_FACES = {
    "dejavu-sans": ("cv2", "qt/fonts", {
        "regular": ("DejaVuSans.ttf", None),
        "bold": ("DejaVuSans-Bold.ttf", None),
        "italic": ("DejaVuSans-Oblique.ttf", None)}),
    "source-serif": ("font_source_serif_pro", "files", {
        "regular": ("SourceSerifPro-Regular.ttf", None),
        "bold": ("SourceSerifPro-Bold.ttf", None),
        "italic": ("SourceSerifPro-It.ttf", None)}),
    "plex-mono": ("fontpkg_ibm_plex_mono", "files", {
        "regular": ("IBMPlexMono-Regular.ttf", None),
        "bold": ("IBMPlexMono-Bold.ttf", None),
        "italic": ("IBMPlexMono-Italic.ttf", None)}),
    "arimo": ("fontpkg_arimo", "files", {
        "regular": ("Arimo[wght].ttf", "Regular"),
        "bold": ("Arimo[wght].ttf", "Bold"),
        "italic": ("Arimo-Italic[wght].ttf", "Italic")}),
    "merriweather": ("fontpkg_merriweather", "files", {
        "regular": ("Merriweather[opsz,wdth,wght].ttf", "Regular"),
        "bold": ("Merriweather[opsz,wdth,wght].ttf", "Bold"),
        "italic": ("Merriweather-Italic[opsz,wdth,wght].ttf", "Italic")}),
    "jetbrains-mono": ("fontpkg_jetbrains_mono", "files", {
        "regular": ("JetBrainsMono[wght].ttf", "Regular"),
        "bold": ("JetBrainsMono[wght].ttf", "Bold"),
        "italic": ("JetBrainsMono-Italic[wght].ttf", "Italic")}),
}  # fmt: skip

_WORDS = (
    "the system stores each record in a journal before the commit completes "
    "and replays it after a restart so that no transaction is lost when the "
    "server stops during a write operators schedule the backup job every "
    "night and verify the checksum of every archive file against the catalog "
    "a query that scans the whole table reads all pages from disk while an "
    "index lookup touches only the blocks it needs the optimizer estimates "
    "the cost of each plan from the statistics collected by the monitor "
    "invoices are matched to purchase orders by supplier number and amount "
    "payments received after the due date carry a late fee of two percent "
    "per month the auditor reviews the ledger quarterly and reports any "
    "difference between the balance and the bank statement to the board "
    "temperature pressure and humidity readings are sampled every minute "
    "and averaged over an hour before they are written to the history table"
).split()

_IDENTIFIERS = (
    "VARCHAR(255)", "QIBM_DB_SQLADM", "3.2.2", "DECIMAL(15,2)", "CHAR(10)",
    "INTEGER", "TIMESTAMP", "0x1F4A", "ISO-8859-1", "UTF-8", "SQLSTATE=42704",
    "QSYS2.SYSTABLES", "CLIENT_HOST", "MAX_LOCKS", "v7r5", "10.24.3.117",
    "2026-03-12", "14:35:09", "$1,234.56", "EUR 98.40", "4711-0815",
    "ORD-20931", "SKU-77A3", "RC=0", "E1047", "42.5%", "1.5e-3", "x86_64",
)  # fmt: skip


@dataclass(frozen=True)
class ScannedPage:
    """One evaluation page: the JPEG a scanner would give, and its text."""

    name: str
    kind: str  # prose, small-print, table, listing
    dpi: int
    jpeg: bytes
    truth: str  # the page's lines in reading order, one per line


@cache
def _font(face: str, style: str, pixels: int):
    from PIL import ImageFont

    package, folder, styles = _FACES[face]
    file, instance = styles[style]
    root = Path(str(resources.files(package))) / folder
    font = ImageFont.truetype(str(root / file), pixels)
    if instance:
        font.set_variation_by_name(instance)
    return font


@dataclass(frozen=True)
class _Recipe:
    """What a set's pages are made of."""

    sans: str
    serif: str
    mono: str
    words: tuple[str, ...]
    identifiers: tuple[str, ...]
    types: tuple[str, ...]  # the table's type column
    defaults: tuple[str, ...]  # ... and its default column

    @property
    def faces(self) -> tuple[str, str, str]:
        return (self.sans, self.serif, self.mono)


_EVALUATION = _Recipe(
    "dejavu-sans", "source-serif", "plex-mono", tuple(_WORDS), _IDENTIFIERS,
    ("VARCHAR(255)", "INTEGER", "DECIMAL(15,2)", "CHAR(10)", "TIMESTAMP"),
    ("0", "NULL", "3.2.2", "1.5e-3", "42", "'N'"),
)  # fmt: skip


@cache
def _calibration_recipe() -> _Recipe:
    """Other faces, the words of the PDFs in tests/data, identifiers made
    from patterns (none of the evaluation's)."""
    import re

    import pypdfium2 as pdfium

    from bench.common import DATA, PDFS

    words = set()
    for name in PDFS:
        pdf = pdfium.PdfDocument(str(DATA / name))
        for page in pdf:
            text = page.get_textpage().get_text_range()
            words.update(re.findall(r"[A-Za-z][a-z]{2,}", text))
    words -= set(_WORDS)
    rng = random.Random("calibration-identifiers")
    upper = sorted(w.upper() for w in words if len(w) < 8)
    identifiers = set()
    while len(identifiers) < 60:
        pattern = rng.randrange(8)
        a, b, c = rng.randrange(1, 40), rng.randrange(0, 20), rng.randrange(0, 99)
        identifiers.add(
            [
                f"{rng.choice(upper)}_{rng.choice(upper)}",
                f"NUMERIC({a},{b % 6})",
                f"{a}.{b}.{c}",
                f"{2000 + c % 30}-{1 + b % 12:02d}-{1 + a % 28:02d}",
                f"0x{rng.randrange(16**6):06X}",
                f"${a * 1000 + c:,}.{b:02d}",
                f"{rng.choice(upper).lower()}-{c:02d}.log",
                f"ERR{a * 100 + c}",
            ][pattern]
        )
    identifiers -= set(_IDENTIFIERS)
    return _Recipe(
        "arimo", "merriweather", "jetbrains-mono",
        tuple(sorted(words)), tuple(sorted(identifiers)),
        ("BIGINT", "NUMERIC(9,3)", "VARCHAR(64)", "DATE", "BOOLEAN"),
        ("TRUE", "''", "7", "0.25", "-1", "CURRENT_DATE"),
    )  # fmt: skip


def _sentence(rng: random.Random, recipe: _Recipe, words: int) -> list[str]:
    out = []
    for _ in range(words):
        pool = recipe.identifiers if rng.random() < 0.12 else recipe.words
        out.append(rng.choice(pool))
    return out


def _set_line(draw, x, y, words, family, pixels, rng) -> None:
    """Draw the words of one line, some in bold or italic."""
    space = _font(family, "regular", pixels).getlength(" ")
    for word in words:
        style = "regular"
        if rng.random() < 0.15:
            style = rng.choice(("bold", "italic"))
        font = _font(family, style, pixels)
        draw.text((x, y), word, fill=(20, 20, 20), font=font)
        x += font.getlength(word) + space


def _wrap(words: list[str], family: str, pixels: int, width: float) -> list[list[str]]:
    font = _font(family, "regular", pixels)
    lines, line = [], []
    for word in words:
        if line and font.getlength(" ".join([*line, word])) > width:
            lines.append(line)
            line = []
        line.append(word)
    if line:
        lines.append(line)
    return lines


def _text_page(rng, recipe: _Recipe, dpi: int, points: tuple[float, float]):
    """Paragraphs of wrapped text: ``(image, truth lines)``."""
    image, draw, width, height, margin = _paper(dpi)
    truth, y = [], margin
    while True:
        family = rng.choice(recipe.faces)
        pixels = round(rng.uniform(*points) * dpi / 72)
        paragraph = _wrap(_sentence(rng, recipe, rng.randint(25, 60)), family, pixels,
                          width - 2 * margin)  # fmt: skip
        if y + (len(paragraph) + 1) * pixels * 1.45 > height - margin:
            break
        for words in paragraph:
            _set_line(draw, margin, y, words, family, pixels, rng)
            truth.append(" ".join(words))
            y += round(pixels * 1.45)
        y += round(pixels * 1.2)
    return image, truth


def _cell_name(rng, recipe: _Recipe) -> str:
    return (
        rng.choice(recipe.identifiers).split("(")[0].strip("$")
        + "_"
        + rng.choice(recipe.words).upper()
    )


def _paper(dpi: int):
    """An A4 sheet of off-white paper: ``(image, draw, width, height, margin)``."""
    from PIL import Image, ImageDraw

    width, height = round(8.27 * dpi), round(11.69 * dpi)
    image = Image.new("RGB", (width, height), (250, 248, 242))
    return image, ImageDraw.Draw(image), width, height, round(0.8 * dpi)


def _table_page(rng, recipe: _Recipe, dpi: int):
    """A ruled table of dense cells: ``(image, truth rows)``."""
    image, draw, width, height, margin = _paper(dpi)
    pixels = round(rng.uniform(7.5, 9) * dpi / 72)
    header = ["Name", "Type", "Default", "Description"]
    columns = [0.24, 0.2, 0.16, 0.4]
    usable = width - 2 * margin
    name_room = usable * columns[0] - pixels
    rows = [header]
    for _ in range(rng.randint(14, 22)):
        name = _cell_name(rng, recipe)
        while _font(recipe.sans, "regular", pixels).getlength(name) > name_room:
            name = _cell_name(rng, recipe)
        rows.append([
            name,
            rng.choice(recipe.types),
            rng.choice(recipe.defaults),
            " ".join(rng.choice(recipe.words) for _ in range(rng.randint(2, 4))),
        ])  # fmt: skip
    row_height = round(pixels * 2.0)
    y = margin
    truth = []
    for r, row in enumerate(rows):
        x = margin
        for c, cell in enumerate(row):
            cell_width = usable * columns[c]
            family = recipe.mono if c in (1, 2) else recipe.sans
            font = _font(family, "bold" if r == 0 else "regular", pixels)
            draw.rectangle((x, y, x + cell_width, y + row_height), outline=(60, 60, 60),
                           width=max(1, dpi // 150))  # fmt: skip
            draw.text(
                (x + pixels * 0.4, y + pixels * 0.45),
                cell,
                fill=(20, 20, 20),
                font=font,
            )
            x += cell_width
        truth.append(" ".join(row))
        y += row_height
    return image, truth


def _scan(image, rng, dpi: int) -> bytes:
    """What a scanner makes of a page: skew, blur, sensor noise, JPEG."""
    import numpy as np
    from PIL import Image, ImageFilter

    image = image.rotate(rng.uniform(-1.2, 1.2), resample=Image.BICUBIC,
                         fillcolor=(250, 248, 242))  # fmt: skip
    if rng.random() < 0.6:
        image = image.filter(
            ImageFilter.GaussianBlur(rng.uniform(0.3, 0.6) * dpi / 150)
        )
    pixels = np.asarray(image).astype(np.float32)
    noise = np.random.default_rng(rng.randrange(2**32)).normal(
        0, rng.uniform(4, 10), pixels.shape
    )
    image = Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=rng.randint(55, 85))
    return buf.getvalue()


#: The evaluation pages' seed.  Nothing is calibrated or tuned on them.
EVALUATION_SEED = 20261203
#: The calibration pages' seed (other layouts and noise besides other faces
#: and words).
CALIBRATION_SEED = 1


def evaluation_pages(
    seed: int = EVALUATION_SEED, only: Optional[Collection[str]] = None
) -> list[ScannedPage]:
    """The 24 evaluation pages: prose, small print, tables and code
    listings, each at 150, 200 and 300 dpi, twice (``only``: those of these
    names, such as ``table-200dpi-1``; each is the same page either way)."""
    return _pages(_EVALUATION, seed, only)


def calibration_pages(
    seed: int = CALIBRATION_SEED, look_alike: bool = False
) -> list[ScannedPage]:
    """24 pages made like the evaluation pages from other faces and words
    (``look_alike``: from the evaluation's faces and words, only the seed
    differs; calibrating on those is tuning to the evaluation set, which
    bench/README.md reports to show how much of a gap that hides)."""
    if seed == EVALUATION_SEED:
        raise ValueError("calibration pages from the evaluation seed")
    return _pages(_EVALUATION if look_alike else _calibration_recipe(), seed)


def _pages(
    recipe: _Recipe, seed: int, only: Optional[Collection[str]] = None
) -> list[ScannedPage]:
    pages = []
    for copy in range(2):
        for dpi in (150, 200, 300):
            for kind in ("prose", "small-print", "table", "listing"):
                name = f"{kind}-{dpi}dpi-{copy}"
                if only is not None and name not in only:
                    continue
                rng = random.Random(f"{seed}-{copy}-{dpi}-{kind}")
                if kind == "prose":
                    image, truth = _text_page(rng, recipe, dpi, (9, 11))
                elif kind == "small-print":
                    image, truth = _text_page(rng, recipe, dpi, (7, 8))
                elif kind == "listing":
                    image, truth = _listing_page(rng, recipe, dpi)
                else:
                    image, truth = _table_page(rng, recipe, dpi)
                pages.append(
                    ScannedPage(
                        name, kind, dpi, _scan(image, rng, dpi), "\n".join(truth)
                    )
                )
    return pages


def _listing_page(rng, recipe: _Recipe, dpi: int):
    """A configuration listing in a monospaced face: ``(image, truth lines)``."""
    image, draw, width, height, margin = _paper(dpi)
    pixels = round(rng.uniform(8, 10) * dpi / 72)
    font = _font(recipe.mono, "regular", pixels)
    truth, y = [], margin
    while y + pixels * 1.5 < height - margin:
        key = (
            rng.choice(recipe.identifiers).split("(")[0].strip("$=")
            + "."
            + rng.choice(recipe.words)
        )
        value = rng.choice(recipe.identifiers)
        line = f"{key} = {value}"
        if font.getlength(line) < width - 2 * margin:
            draw.text((margin, y), line, fill=(20, 20, 20), font=font)
            truth.append(line)
        y += round(pixels * 1.5)
    return image, truth
