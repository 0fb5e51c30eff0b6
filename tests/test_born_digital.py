"""Born-digital PDFs under the default route (auto): structure from the text
layer with the real layout and table models, a text layer checked before it
is trusted, and render.textLayer's three ways.

The documents are bench/born_digital_docs.py's *tune* half (the held-out
half stays out of every test and rule), read as a run reads them
(bench.common.read_document: the split, then the page handler)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import born_digital_docs as bd  # noqa: E402
from bench import structure_metrics as sm  # noqa: E402
from bench.common import page_handler, read_document  # noqa: E402

pytestmark = [pytest.mark.model, pytest.mark.structure]


@pytest.fixture(scope="module")
def default():
    """The default configuration's handler, loaded once."""
    return page_handler([])


@pytest.fixture(scope="module")
def report() -> bd.Document:
    [doc] = bd.documents(1, only=["report"])[:1]
    return doc


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", re.sub(r"<[^>]+>", " ", text).lower())


#: Page furniture: kept in the blocks, out of the markdown.  OCR may miss a
#: lone page number that the text layer holds.
_FURNITURE = ("number", "header", "footer")


def _labels(row) -> list[str]:
    blocks = json.loads(row.result_json)["parsing_res_list"]
    return [b["block_label"] for b in blocks if b["block_label"] not in _FURNITURE]


def _word_f1(truth: str, found: str) -> float:
    common, in_truth, in_found = sm.word_counts(truth, found)
    return 2 * common / (in_truth + in_found)


def test_a_born_digital_report_reads_as_its_scanned_twin_with_exact_words(
    default, report
):
    [born] = read_document([], report.pdf, *default)
    [twin] = read_document([], bd.scanned(report, noise=False), *default)
    assert (born.text_source, born.engine) == ("text_layer", "text_layer/pdfium")
    assert born.text_source_reason == "text layer passed its checks"
    assert (twin.text_source, twin.text_source_reason) == ("ocr", "no text layer")
    assert born.route == twin.route == "structure"
    # The same blocks, in the same order, from either kind of lines.
    assert _labels(born) == _labels(twin)
    assert "table" in _labels(born) and "image" in _labels(born)
    # Every heading at its level, and the table with its span.
    assert [(h.replace(" ", ""), level) for h, level in sm.headings(born.markdown)] == [
        (h.replace(" ", ""), level) for h, level in sm.headings(twin.markdown)
    ]  # OCR may lose the space after a section number
    assert [h for h, _ in sm.headings(born.markdown)] == [h for h, _ in report.headings]
    assert 'colspan="2"' in born.markdown and 'colspan="2"' in twin.markdown
    # The text layer's words exactly: each word drawn is in the markdown.
    assert sorted(_words(born.markdown)) == sorted(_words(report.truth_markdown))
    assert _word_f1(born.markdown, twin.markdown) >= 0.97


def test_a_scan_with_a_wrong_invisible_text_layer_is_ocrd_and_says_so(default, report):
    [row] = read_document([], bd.with_poor_layer(report), *default)
    assert row.text_source == "ocr" and row.engine.startswith("ppocrv5/")
    assert "invisible" in row.text_source_reason
    assert "another program's OCR" in row.text_source_reason
    assert _word_f1(report.truth_markdown, row.markdown) >= 0.9


def test_a_wrong_text_layer_hidden_under_the_scan_disagrees_with_ocr(default, report):
    """Drawn visibly but beneath the page image, the layer passes the
    split's checks; over a page-sized image it is compared with OCR first."""
    [row] = read_document([], bd.with_poor_layer(report, under=True), *default)
    assert row.text_source == "ocr"
    assert row.text_source_reason.startswith(
        "the text layer disagrees with OCR of the page (word F1 0."
    )
    assert _word_f1(report.truth_markdown, row.markdown) >= 0.9


def test_a_born_digital_page_over_a_page_sized_picture_keeps_its_text_layer(
    default,
):
    [doc] = bd.documents(1, only=["handbook"], background=True)[:1]
    [row] = read_document([], doc.pdf, *default)
    assert row.text_source == "text_layer"
    assert row.text_source_reason.startswith(
        "the text layer agrees with OCR of the page (word F1 "
    )
    assert sorted(_words(row.markdown)) == sorted(_words(doc.truth_markdown))


def test_a_pdf_whose_glyphs_have_no_unicode_mapping_is_ocrd(default):
    # The held-out faces are embedded TrueType fonts: their Unicode maps
    # can be taken out (the core fonts' names map without one).
    doc = next(d for d in bd.documents(1, only=["handbook"]) if d.split == "held-out")
    [row] = read_document([], bd.without_unicode(doc), *default)
    assert row.text_source == "ocr"
    assert "no Unicode mapping" in row.text_source_reason
    assert _word_f1(doc.truth_markdown, row.markdown) >= 0.9


def test_text_the_layer_lacks_sends_the_page_to_ocr(default):
    """A page whose body is a picture of text under a real title: the layer
    passes its own checks, but the layout model sees text it does not hold."""
    from fpdf import FPDF
    from PIL import Image, ImageDraw

    from docs import SENTENCES, font

    image = Image.new("RGB", (1400, 900), "white")
    draw = ImageDraw.Draw(image)
    for k, sentence in enumerate(SENTENCES * 2):
        draw.text((20, 20 + k * 52), sentence, fill="black", font=font(30))
    pdf = FPDF(unit="pt", format="A4")
    pdf.add_page()
    pdf.set_font("helvetica", "B", 18)
    pdf.text(56, 70, "Quarterly figures of the harbour office")
    pdf.image(image, 56, 100, 480, 480 * 900 / 1400)
    [row] = read_document([], bytes(pdf.output()), *default)
    assert row.text_source == "ocr"
    assert "lacks text the layout model sees" in row.text_source_reason
    assert "Apache Beam runs pipelines on many engines" in row.text


def test_render_text_layer_trust_and_ignore_do_what_they_say(report):
    poor = bd.with_poor_layer(report)
    trusting = page_handler(["render.textLayer=trust"])
    [row] = read_document(["render.textLayer=trust"], poor, *trusting)
    assert (row.text_source, row.text_source_reason) == (
        "text_layer",
        "render.textLayer=trust",
    )
    assert _word_f1(report.truth_markdown, row.markdown) < 0.85  # its misreadings
    ignoring = page_handler(["render.textLayer=ignore"])
    [row] = read_document(["render.textLayer=ignore"], report.pdf, *ignoring)
    assert (row.text_source, row.text_source_reason) == (
        "ocr",
        "render.textLayer=ignore",
    )
    assert row.engine.startswith("ppocrv5/")


def test_an_engine_that_reads_only_text_layers_never_builds_the_ocr_model(report):
    """The layout and table models run on a text-layer page in the engine
    process as on a scan, and PP-OCRv5 is built at the first page that
    needs it, not before."""
    from ocrbeam.pipelines.stages import page_handler as handler_for
    from ocrbeam.transforms.config import load_config

    from ocrbeam.engines.ppocrv5 import EngineServer
    from ocrbeam.engines.render import PageRenderer
    from ocrbeam.engines.text_layer import encode_lines

    config = load_config(None, ["ocr.isolate=false"])
    server = EngineServer(handler_for(config, cpu_threads=2).engine_settings())
    renderer = PageRenderer(config.render)
    renderer.open(report.pdf, "pdf")
    png = renderer.render(0)[0]
    layer = renderer.text_layer(0)
    out = server.ocr(png, encode_lines(layer.lines))
    assert out.result["text_source"] == {"source": "text_layer", "reason": None}
    assert out.result["layout_det_res"]["boxes"] and out.result["table_res_list"]
    assert not server.ocr_built
    out = server.ocr(png)  # the same page as a scan
    assert server.ocr_built and "text_source" not in out.result
