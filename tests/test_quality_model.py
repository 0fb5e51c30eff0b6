"""Output quality with the real models: orientation and reading order."""

import pytest
from ocrbeam.transforms.config import RenderConfig
from ocrbeam.transforms.records import PageImage, PageResult
from PIL import Image, ImageDraw

from docs import DATA, SENTENCES, encode, font
from ocrbeam.engines.render import render_pages
from ocrbeam.text.quality import cer

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


def test_an_upside_down_page_the_page_classifier_missed_reads_top_to_bottom():
    """Page orientation off (as when the 4-class classifier misses a page):
    the 0/180 line classifier turns every line of an upside-down page, and
    the page is taken as turned: orientation_deg 180, the lines in reading
    order, boxes and line angles in the upright frame."""
    import json

    from ocrbeam.transforms.config import PPOCRv5Config
    from ocrbeam.transforms.handlers import PPOCRv5ModelHandler

    from docs import text_image

    lines = SENTENCES[:4]
    upright = text_image(lines)
    flipped = upright.rotate(180)
    cfg = PPOCRv5Config(isolate=False, use_doc_orientation_classify=False)
    handler = PPOCRv5ModelHandler(cfg, "t", cpu_threads=2)
    engine = handler.load_model()
    [row] = handler.run_inference([_page(flipped)], engine)
    result = json.loads(row.result_json)
    assert result["model_settings"]["use_textline_orientation"] is True
    assert row.orientation_deg == 180
    assert result["doc_preprocessor_res"] == {"angle": 180}
    assert result["textline_orientation_angles"] == [0, 0, 0, 0]  # upright frame
    assert cer("\n".join(lines), row.text) < 0.03, row.text
    # Boxes in the upright frame: the first line is the top one.
    tops = [result["rec_boxes"][i][1] for i in result["reading_order"]]
    assert tops == sorted(tops) and tops[0] < upright.height / 4


@pytest.mark.parametrize("turn", [90, 270])
def test_a_page_turned_a_quarter_the_classifier_missed_is_read_upright(turn):
    """Most text in tall boxes: the engine reads the page turned a quarter too
    and keeps the better reading, with its angle."""
    from ocrbeam.transforms.config import PPOCRv5Config
    from ocrbeam.transforms.handlers import PPOCRv5ModelHandler

    from docs import text_image

    lines = SENTENCES[:4]
    # PIL turns counter-clockwise: the content ends up turned `turn` clockwise.
    turned = text_image(lines).rotate(-turn, expand=True)
    cfg = PPOCRv5Config(isolate=False, use_doc_orientation_classify=False)
    handler = PPOCRv5ModelHandler(cfg, "t", cpu_threads=2)
    engine = handler.load_model()
    [row] = handler.run_inference([_page(turned)], engine)
    assert row.orientation_deg == turn
    assert (row.width, row.height) == (turned.height, turned.width)
    assert cer("\n".join(lines), row.text) < 0.03, row.text


def test_real_two_column_pdf_page_reads_column_by_column(ppocr_handler, ppocr_engine):
    """multicolumn.pdf page 1 (pdflatex, two columns) against its text layer."""
    import json

    import pypdfium2 as pdfium

    from ocrbeam.text.quality import word_f1

    pdf = pdfium.PdfDocument(str(DATA / "multicolumn.pdf"))
    truth = pdf[0].get_textpage().get_text_range()
    img = pdf[0].render(scale=144 / 72).to_pil().convert("RGB")
    [row] = ppocr_handler.run_inference([_page(img)], ppocr_engine)
    engine_text = "\n".join(json.loads(row.result_json)["rec_texts"])
    assert cer(truth, engine_text) > 0.5  # the engine reads across the columns
    assert cer(truth, row.text) < 0.03, row.text[:300]
    # Order no longer costs accuracy: CER is no worse than the words imply.
    assert cer(truth, row.text) <= (1 - word_f1(truth, row.text)) + 0.02


def _gated_server(below_score):
    from ocrbeam.transforms.config import PPOCRv5Config

    from ocrbeam.engines.ppocrv5 import EngineServer, EngineSettings

    cfg = PPOCRv5Config(
        isolate=False,
        use_doc_orientation_classify=False,
        textline_orientation_below_score=below_score,
    )
    return EngineServer(EngineSettings.from_config(cfg, threads=2))


def test_gated_line_orientation_turns_the_one_upside_down_line():
    """One line upside down among upright ones: the default gate classifies
    only the lines that read badly, and reads the page as classifying every
    line does (``textlineOrientationBelowScore: null``, PaddleOCR's way)."""
    from ocrbeam.transforms.config import PPOCRv5Config

    from docs import text_image
    from ocrbeam.engines.paddlex_patches import _GatedLineOrientation

    lines = SENTENCES[:5]
    page = text_image(lines)
    band = (0, 40 + int(2 * 32 * 1.8) - 8, page.width, 40 + int(3 * 32 * 1.8) - 8)
    page.paste(page.crop(band).rotate(180), band[:2])  # the third line, turned
    png = encode(page)

    default = PPOCRv5Config().textline_orientation_below_score
    assert default is not None
    gated, every = _gated_server(default), _gated_server(None)
    gate = gated.pipeline.paddlex_pipeline._pipeline.textline_orientation_model
    assert isinstance(gate, _GatedLineOrientation)
    assert not isinstance(
        every.pipeline.paddlex_pipeline._pipeline.textline_orientation_model,
        _GatedLineOrientation,
    )
    out_gated, out_every = gated.ocr(png).result, every.ocr(png).result
    for out in (out_gated, out_every):
        assert sorted(out["rec_texts"]) == sorted(lines), out["rec_texts"]
        assert sorted(out["textline_orientation_angles"]) == [0, 0, 0, 0, 1]
    assert out_gated["rec_texts"] == out_every["rec_texts"]
    assert out_gated["rec_scores"] == out_every["rec_scores"]
    # the upside-down line was classified; most upright ones were not
    assert gate.lines == 5 and 1 <= gate.classified <= 2


def test_read_ahead_answers_each_page_of_a_batch_from_its_own_reads():
    """PaddleX classifies a batch of pages' lines at once, then reads them
    page by page: every page's reads come from the read-ahead, and only the
    line turned by the classifier is read again (stand-in models: this is
    about the bookkeeping, the real models are above)."""
    import numpy as np

    from ocrbeam.engines.paddlex_patches import _GatedLineOrientation, _ReadAhead

    calls = []

    def recogniser(imgs, **kwargs):
        calls.append(len(imgs))
        for img in imgs:
            value = int(img[0, 0, 0])
            yield {
                "rec_text": f"line {value}",
                "rec_score": 0.5 if value == 3 else 0.99,
            }

    def classifier(imgs, **kwargs):
        return [{"class_ids": [1]} for _ in imgs]

    reader = _ReadAhead(recogniser)
    gate = _GatedLineOrientation(classifier, reader, below_score=0.95)
    crops = [np.full((10, 40 + i, 3), i, np.uint8) for i in range(5)]
    verdicts = gate(crops)
    assert [v["class_ids"][0] for v in verdicts] == [0, 0, 0, 1, 0]
    assert (gate.lines, gate.classified) == (5, 1)
    turned = crops[3][::-1, ::-1].copy()  # what rotate_image returns: a new array
    page_one = list(reader(crops[:2]))
    page_two = list(reader([crops[2], turned, crops[4]]))
    assert [r["rec_text"] for r in page_one + page_two] == [
        "line 0",
        "line 1",
        "line 2",
        "line 3",
        "line 4",
    ]
    assert calls == [5, 1]  # the read-ahead, then the turned line alone
    # an equal array that is not one of the crops read ahead is read afresh
    list(reader([crops[0].copy()]))
    assert calls == [5, 1, 1]


def test_line_classifier_gives_each_line_of_a_batch_its_own_angle():
    """PaddleX 3.7.2 handed every image of a classifier batch the whole
    batch's class ids, so PaddleOCR gave each line its batch's first angle;
    with ocrbeam's engine each line of a batch of 6 gets its own."""
    import numpy as np

    from docs import text_image

    server = _gated_server(None)
    inner = server.pipeline.paddlex_pipeline._pipeline
    crops = []
    for i, line in enumerate(SENTENCES[:4]):
        crop = np.asarray(text_image([line], width=40 + 20 * len(line), margin=8))
        crops.append(
            np.ascontiguousarray((crop if i % 2 == 0 else crop[::-1, ::-1])[:, :, ::-1])
        )
    verdicts = list(inner.textline_orientation_model(crops, batch_size=6))
    angles = [int(np.asarray(v["class_ids"]).ravel()[0]) for v in verdicts]
    assert angles == [0, 1, 0, 1]
