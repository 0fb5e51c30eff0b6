"""The real PP-OCRv5 mobile models (bundled weights, CPU)."""

import pytest
from ocrbeam.transforms.config import RenderConfig
from ocrbeam.transforms.records import DeadLetter, PageImage, PageResult

from docs import SENTENCES, encode, pdf_of_pages, text_image
from ocrbeam.engines.render import render_pages
from ocrbeam.text.quality import cer

pytestmark = pytest.mark.model


def _page(img, index=0, count=1, uri="mem://doc.png"):
    return PageImage("d" * 64, uri, index, count, img.width, img.height, encode(img))


def test_known_text_in_an_image_comes_back(ppocr_handler, ppocr_engine):
    lines = SENTENCES[:4]
    [row] = ppocr_handler.run_inference([_page(text_image(lines))], ppocr_engine)
    assert isinstance(row, PageResult)
    assert cer("\n".join(lines), row.text) < 0.05, row.text
    assert row.line_count == 4 and row.mean_score > 0.9
    assert row.engine == "ppocrv5/onnxruntime"
    assert row.model == "PP-OCRv5_mobile_det+PP-OCRv5_mobile_rec"


def test_known_text_in_a_rendered_pdf_comes_back(ppocr_handler, ppocr_engine):
    pages = [SENTENCES[0:3], SENTENCES[3:6]]
    rendered = list(render_pages(pdf_of_pages(pages), RenderConfig(dpi=100)))
    batch = [_page(img, i, n, "mem://doc.pdf") for i, n, img in rendered]
    rows = ppocr_handler.run_inference(batch, ppocr_engine)
    assert [(r.page_index, r.page_count) for r in rows] == [(0, 2), (1, 2)]
    for row, truth in zip(rows, pages, strict=True):
        assert cer("\n".join(truth), row.text) < 0.05, row.text


def test_result_json_has_the_service_pruned_result_shape(ppocr_handler, ppocr_engine):
    import json

    [row] = ppocr_handler.run_inference(
        [_page(text_image(SENTENCES[:1]))], ppocr_engine
    )
    result = json.loads(row.result_json)
    for key in (
        "model_settings",
        "dt_polys",
        "text_det_params",
        "text_type",
        "text_rec_score_thresh",
        "rec_texts",
        "rec_scores",
        "rec_polys",
        "rec_boxes",
    ):
        assert key in result, key
    assert "input_path" not in result and "page_index" not in result
    assert result["text_det_params"]["limit_side_len"] == 64
    assert len(result["rec_boxes"][0]) == 4


def test_blank_page_gives_an_empty_row(ppocr_handler, ppocr_engine):
    from PIL import Image

    [row] = ppocr_handler.run_inference(
        [_page(Image.new("RGB", (600, 400), "white"))], ppocr_engine
    )
    assert row.text == "" and row.line_count == 0 and row.mean_score is None


def test_a_failing_page_does_not_take_its_batch_down(ppocr_handler, ppocr_engine):
    good = _page(text_image(SENTENCES[:1]))
    broken = good._replace(image=b"\x89PNG\r\n\x1a\nnot really", page_index=1)
    rows = ppocr_handler.run_inference([good, broken], ppocr_engine)
    assert isinstance(rows[0], PageResult)
    assert isinstance(rows[1], DeadLetter)
    assert rows[1].stage == "ocr" and rows[1].error_type == "ocr_failed"
    assert rows[1].page_index == 1


def test_detection_parameters_reach_the_engine():
    from ocrbeam.transforms.config import load_config
    from ocrbeam.transforms.handlers import PPOCRv5ModelHandler

    cfg = load_config(
        None,
        [
            "ocr.textDetLimitType=max",
            "ocr.textDetLimitSideLen=960",
            "ocr.textRecScoreThresh=0.5",
        ],
    )
    handler = PPOCRv5ModelHandler(cfg.ocr, "h", cpu_threads=1)
    settings = handler.engine_settings()
    kwargs = settings.predict_kwargs
    assert kwargs["text_det_limit_type"] == "max"
    assert kwargs["text_det_limit_side_len"] == 960
    assert kwargs["text_rec_score_thresh"] == 0.5
    init = settings.pipeline_kwargs
    assert init["engine"] == "onnxruntime"
    assert init["engine_config"]["intra_op_num_threads"] == 1
    from pathlib import Path

    for key in ("text_detection_model_dir", "text_recognition_model_dir"):
        folder = Path(init[key])
        assert (folder / "inference.onnx").is_file()
        assert (folder / "inference.yml").is_file()


@pytest.mark.paddle
def test_paddle_backend_reads_the_same_text():
    pytest.importorskip(
        "paddle", reason="the paddle backend needs the [paddle] extra (paddlepaddle)"
    )
    from ocrbeam.transforms.config import load_config
    from ocrbeam.transforms.handlers import PPOCRv5ModelHandler

    cfg = load_config(None, ["ocr.backend=paddle"])
    handler = PPOCRv5ModelHandler(cfg.ocr, "h", cpu_threads=2)
    engine = handler.load_model()
    lines = SENTENCES[:2]
    [row] = handler.run_inference([_page(text_image(lines))], engine)
    assert row.engine == "ppocrv5/paddle"
    assert cer("\n".join(lines), row.text) < 0.05, row.text


def test_int8_profile_runs_the_int8_recogniser_and_reads_rendered_lines():
    from ocrbeam.transforms.config import load_config
    from ocrbeam.transforms.handlers import PPOCRv5ModelHandler

    from ocrbeam.engines.ppocrv5 import EngineServer, EngineSettings
    from ocrbeam.models.bundled import INT8_RECOGNITION_MODEL, int8_without_saturation

    texts = {}
    for precision in ("int8", "fp32"):
        cfg = load_config(None, [f"ocr.textRecognitionPrecision={precision}"]).ocr
        handler = PPOCRv5ModelHandler(cfg, "t", cpu_threads=1)
        settings = handler.engine_settings()
        rec_dir = settings.pipeline_kwargs["text_recognition_model_dir"]
        # int8 where this CPU runs it without saturating (else fp32, warned).
        int8 = precision == "int8" and int8_without_saturation()
        assert (INT8_RECOGNITION_MODEL in rec_dir) == int8
        # The rows say which recogniser read them.
        assert handler.model_name == "PP-OCRv5_mobile_det+" + (
            INT8_RECOGNITION_MODEL if int8 else "PP-OCRv5_mobile_rec"
        )
        # The recogniser alone: no page orientation, lines at full width.
        server = EngineServer(
            EngineSettings(settings.pipeline_kwargs, settings.predict_kwargs)
        )
        out = server.ocr(encode(text_image(SENTENCES[0:3])))
        texts[precision] = "\n".join(out.result["rec_texts"])
    truth = "\n".join(SENTENCES[0:3])
    assert cer(truth, texts["fp32"]) < 0.02
    assert cer(truth, texts["int8"]) < 0.02


def test_narrowing_hands_the_recogniser_narrower_lines():
    """The real PaddleX resize step, wrapped: lines reach the recogniser at
    48 px high and ``scale`` of their full-width size; portrait crops as they are."""
    import numpy as np
    from paddlex.inference.models.text_recognition.processors import (
        OCRReisizeNormImg,
    )

    from ocrbeam.engines.paddlex_patches import _NarrowedLines

    resize = OCRReisizeNormImg(rec_image_shape=[3, 48, 320])
    wide = np.full((30, 1500, 3), 200, np.uint8)  # 2400 px wide at 48 px high
    tall = np.full((90, 40, 3), 200, np.uint8)
    full = resize([wide, tall])
    narrowed = _NarrowedLines(resize, 0.85)([wide, tall])
    assert full[0].shape == (3, 48, 2400)
    assert narrowed[0].shape == (3, 48, 2040)
    assert narrowed[1].shape == full[1].shape == (3, 48, 320)
    np.testing.assert_array_equal(narrowed[1], full[1])


def test_narrowed_lines_read_like_full_width_lines():
    from ocrbeam.transforms.config import load_config
    from ocrbeam.transforms.handlers import PPOCRv5ModelHandler

    from ocrbeam.engines.paddlex_patches import _NarrowedLines
    from ocrbeam.engines.ppocrv5 import EngineServer, EngineSettings

    default = load_config(None).ocr.text_recognition_width_scale
    assert default < 1.0
    truth = "\n".join(SENTENCES[0:4])
    page = encode(text_image(SENTENCES[0:4]))
    for scale in (1.0, default):
        cfg = load_config(None, [f"ocr.textRecognitionWidthScale={scale}"]).ocr
        handler = PPOCRv5ModelHandler(cfg, "t", cpu_threads=1)
        # what the handler's engines are built with
        settings = handler.engine_settings()
        assert settings.rec_width_scale == scale
        server = EngineServer(
            EngineSettings(
                settings.pipeline_kwargs,
                settings.predict_kwargs,
                rec_width_scale=scale,
            )
        )
        rec = server.pipeline.paddlex_pipeline._pipeline.text_rec_model
        hooked = isinstance(rec.pre_tfs["ReisizeNorm"], _NarrowedLines)
        assert hooked == (scale < 1.0)
        text = "\n".join(server.ocr(page).result["rec_texts"])
        assert cer(truth, text) < 0.02, (scale, text)


def test_visualize_draws_the_boxes_on_the_upright_page(ppocr_engine):
    import io

    import numpy as np
    from ocrbeam.transforms.config import PPOCRv5Config
    from ocrbeam.transforms.handlers import PPOCRv5ModelHandler
    from ocrbeam.transforms.records import PageWithArtifacts
    from PIL import Image

    handler = PPOCRv5ModelHandler(PPOCRv5Config(visualize=True), "c")
    upright = text_image(SENTENCES[:3])
    turned = upright.rotate(90, expand=True)  # a scan fed in sideways
    [outcome] = handler.run_inference([_page(turned)], ppocr_engine)
    assert isinstance(outcome, PageWithArtifacts)
    assert outcome.row.orientation_deg in (90, 270) and outcome.row.line_count == 3
    [artifact] = outcome.artifacts
    assert artifact.path == "visualize/doc-dddddddddddd/page-00000.jpg"
    drawn = Image.open(io.BytesIO(artifact.data))
    assert drawn.format == "JPEG" and drawn.size == upright.size
    pixels = np.asarray(drawn.convert("RGB")).astype(int)
    green = (pixels[..., 1] > 120) & (pixels[..., 0] < 90) & (pixels[..., 2] < 90)
    assert green.sum() > 500  # three outlined lines


def test_lean_recogniser_steps_give_the_same_reads():
    """ocrbeam's batching and CTC decoding of the recogniser (no copies)
    return exactly what PaddleX's own steps do, for single lines and batches."""
    import numpy as np
    from ocrbeam.transforms.config import PPOCRv5Config
    from ocrbeam.transforms.handlers import PPOCRv5ModelHandler
    from paddleocr import TextRecognition

    from ocrbeam.engines.paddlex_patches import (
        _LeanBatch,
        _LeanCtcDecode,
        lean_recognizer,
    )

    handler = PPOCRv5ModelHandler(PPOCRv5Config(), "t", cpu_threads=1)
    kwargs = handler.engine_settings().pipeline_kwargs
    rec = TextRecognition(
        model_name=kwargs["text_recognition_model_name"],
        model_dir=kwargs["text_recognition_model_dir"],
        engine="onnxruntime",
        engine_config=kwargs["engine_config"],
    )
    from PIL import ImageOps

    crops = []
    for line in SENTENCES[:3]:
        img = text_image([line], margin=10)
        left, top, right, bottom = ImageOps.invert(img.convert("L")).getbbox()
        box = (left - 6, top - 6, right + 6, bottom + 6)
        crops.append(np.ascontiguousarray(np.asarray(img.crop(box))[:, :, ::-1]))

    def reads(batch_size):
        out = rec.predict(crops, batch_size=batch_size)
        return [(r["rec_text"], r["rec_score"]) for r in out]

    before = {size: reads(size) for size in (1, 3)}
    predictor = rec.paddlex_predictor
    lean_recognizer(predictor)
    assert isinstance(predictor.pre_tfs["ToBatch"], _LeanBatch)
    assert isinstance(predictor.post_op, _LeanCtcDecode)
    after = {size: reads(size) for size in (1, 3)}
    assert after == before
    assert cer("\n".join(SENTENCES[:3]), "\n".join(t for t, _ in after[1])) < 0.05
