"""Output quality with the real models: orientation and reading order."""

import pytest
from docs import DATA, SENTENCES, encode, font
from ocrbeam.transforms.config import RenderConfig
from ocrbeam.transforms.pdf import render_pages
from ocrbeam.transforms.quality import cer
from ocrbeam.transforms.records import PageImage, PageResult
from PIL import Image, ImageDraw

pytestmark = pytest.mark.model


def _page(img, uri="mem://p.png"):
    return PageImage("d" * 64, uri, 0, 1, img.width, img.height, encode(img))


@pytest.fixture(scope="module")
def upright_page():
    data = (DATA / "minimal-document.pdf").read_bytes()
    [(_, _, img)] = list(render_pages(data, RenderConfig(dpi=100, isolate=False)))
    return img.convert("RGB")


@pytest.mark.parametrize("angle", [90, 180, 270])
def test_rotated_pages_read_like_upright_and_record_the_angle(
    ppocr_handler, ppocr_engine, upright_page, angle
):
    [upright] = ppocr_handler.run_inference([_page(upright_page)], ppocr_engine)
    assert upright.orientation_deg == 0
    # PIL rotates counter-clockwise; the classifier reports clockwise rotation.
    rotated = upright_page.rotate(angle, expand=True)
    [row] = ppocr_handler.run_inference([_page(rotated)], ppocr_engine)
    assert isinstance(row, PageResult)
    assert row.orientation_deg == (360 - angle) % 360
    assert cer(upright.text, row.text) < 0.02, row.text[:200]
    assert (
        row.width,
        row.height,
    ) == upright_page.size  # boxes are in the upright frame


def two_column_page():
    """Two columns of different sentences, paragraph breaks aligned across them."""
    img = Image.new("RGB", (1300, 700), "white")
    draw = ImageDraw.Draw(img)
    f = font(26)
    left = SENTENCES[0:4]
    right = SENTENCES[4:8]
    for i, (a, b) in enumerate(zip(left, right, strict=True)):
        y = 60 + i * 48 + (60 if i >= 2 else 0)  # a paragraph gap after two lines
        draw.text((40, y), a[:38], fill="black", font=f)
        draw.text((680, y), b[:38], fill="black", font=f)
    truth = "\n".join(s[:38] for s in left + right)
    return img, truth


def test_two_column_page_comes_back_column_by_column(ppocr_handler, ppocr_engine):
    img, truth = two_column_page()
    [row] = ppocr_handler.run_inference([_page(img)], ppocr_engine)
    assert cer(truth, row.text) < 0.05, row.text
    import json

    result = json.loads(row.result_json)
    assert sorted(result["reading_order"]) == list(range(len(result["rec_texts"])))
    # The engine's own order interleaves the columns; ours does not.
    engine_text = "\n".join(result["rec_texts"])
    assert cer(truth, engine_text) > 0.3


def test_hyphenated_line_break_is_joined_in_markdown(ppocr_handler, ppocr_engine):
    from docs import text_image

    img = text_image(["Optical character recog-", "nition at data lake scale."])
    [row] = ppocr_handler.run_inference([_page(img)], ppocr_engine)
    assert "recog-" in row.text  # the text keeps the lines as printed
    assert "character recognition at data lake scale" in row.markdown


def test_textline_orientation_flips_upside_down_lines():
    """With page orientation off, the bundled 0/180 line classifier alone
    turns upside-down lines around before recognition."""
    import json

    from docs import text_image
    from ocrbeam.transforms.config import PPOCRv5Config
    from ocrbeam.transforms.handlers import PPOCRv5ModelHandler

    lines = SENTENCES[:3]
    flipped = text_image(lines).rotate(180)
    cfg = PPOCRv5Config(isolate=False, use_doc_orientation_classify=False)
    handler = PPOCRv5ModelHandler(cfg, "t", cpu_threads=2)
    engine = handler.load_model()
    [row] = handler.run_inference([_page(flipped)], engine)
    result = json.loads(row.result_json)
    assert result["model_settings"]["use_textline_orientation"] is True
    assert result["textline_orientation_angles"] == [1, 1, 1]  # class 1: 180 degrees
    assert row.orientation_deg is None
    assert sorted(row.text.splitlines()) == sorted(lines)


def test_real_two_column_pdf_page_reads_column_by_column(ppocr_handler, ppocr_engine):
    """multicolumn.pdf page 1 (pdflatex, two columns) against its text layer."""
    import json

    import pypdfium2 as pdfium
    from ocrbeam.transforms.quality import word_f1

    pdf = pdfium.PdfDocument(str(DATA / "multicolumn.pdf"))
    truth = pdf[0].get_textpage().get_text_range()
    img = pdf[0].render(scale=144 / 72).to_pil().convert("RGB")
    [row] = ppocr_handler.run_inference([_page(img)], ppocr_engine)
    engine_text = "\n".join(json.loads(row.result_json)["rec_texts"])
    assert cer(truth, engine_text) > 0.5  # the engine reads across the columns
    assert cer(truth, row.text) < 0.03, row.text[:300]
    # Order no longer costs accuracy: CER is no worse than the words imply.
    assert cer(truth, row.text) <= (1 - word_f1(truth, row.text)) + 0.02
