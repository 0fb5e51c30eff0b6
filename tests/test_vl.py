"""PaddleOCR-VL result conversion and the degenerate-output guard.

PaddleOCR-VL weights are not available offline: the conversion is tested on a
real service response (../shared/fixtures/layout_parsing_response.json, copied
to tests/data) and on results built from the documented format (SPEC.md).
"""

import json
import os

import pytest
from docs import DATA
from ocrbeam.transforms.records import PageImage
from ocrbeam.transforms.vl import TRUNCATION_MARK, guard_block, vl_page_result

pytestmark = pytest.mark.vl

PAGE = PageImage("d" * 64, "gs://b/report.pdf", 2, 5, 800, 531, b"")


def _convert(layout):
    return vl_page_result(
        PAGE, layout, engine="paddleocr-vl/remote", model="PaddleOCR-VL",
        elapsed_ms=1.0, config_hash="c",
    )  # fmt: skip


def test_real_service_response_converts():
    response = json.loads((DATA / "layout_parsing_response.json").read_text())
    [layout] = response["result"]["layoutParsingResults"]
    row, images = _convert({**layout, "dataInfo": response["result"]["dataInfo"]})
    assert row.route == "vl" and row.flags is None
    assert (row.width, row.height) == (800, 531)
    assert 'src="imgs/img_in_image_box_0_2_800_531.jpg"' in row.markdown
    assert list(images) == ["imgs/img_in_image_box_0_2_800_531.jpg"]
    assert row.text == ""  # the page is one picture: no text blocks
    pruned = json.loads(row.result_json)
    assert pruned["parsing_res_list"][0]["block_label"] == "image"
    assert pruned["layout_det_res"]["boxes"][0]["label"] == "image"


def _documented(blocks, text, is_start=True, is_end=True):
    return {
        "prunedResult": {
            "model_settings": {"use_layout_detection": True},
            "parsing_res_list": [
                {
                    "block_label": label,
                    "block_content": content,
                    "block_bbox": [0, 10 * i, 100, 10 * i + 9],
                    "block_id": i,
                    "block_order": i + 1,
                }
                for i, (label, content) in enumerate(blocks)
            ],  # fmt: skip
        },
        "markdown": {"text": text, "images": {}, "isStart": is_start, "isEnd": is_end},
    }


def test_blocks_in_reading_order_make_the_text():
    layout = _documented(
        [("paragraph_title", "1. Results"), ("text", "Revenue grew."),
         ("image", ""), ("table", "<table><tr><td>4</td></tr></table>")],
        "## 1. Results\n\nRevenue grew.\n\n<table>...</table>", is_end=False,
    )  # fmt: skip
    row, _ = _convert(layout)
    table = "<table><tr><td>4</td></tr></table>"
    assert row.text.split("\n\n") == ["1. Results", "Revenue grew.", table]
    assert row.line_count == 3
    pruned = json.loads(row.result_json)
    assert (pruned["is_start"], pruned["is_end"]) == (True, False)


def test_a_repetition_loop_is_cut_and_flagged():
    loop = "The total is " + "the same value " * 40
    layout = _documented([("text", "Fine."), ("text", loop)], f"Fine.\n\n{loop}")
    row, _ = _convert(layout)
    assert row.flags.startswith("block 1: repetition:the same value")
    assert row.text.endswith("the same value" + TRUNCATION_MARK)
    assert row.markdown.count("the same value") == 1
    assert json.loads(row.result_json)["parsing_res_list"][1]["truncated"]


@pytest.mark.parametrize(
    "content, reason",
    [
        ("Normal text with no loop at all, in two sentences. Really.", None),
        ("ha " * 5, None),  # a few repeats are language, not a loop
        ("之" * 50, "repetition:之"),
        ("| a | b |\n" * 30, "repetition:| a | b |"),
        ("x" * 5 + " word " * 0 + "y" * 3, None),
    ],
)
def test_guard_block(content, reason):
    guarded, found = guard_block(content)
    assert found == reason
    if reason is None:
        assert guarded == content
    else:
        assert guarded.endswith(TRUNCATION_MARK) and len(guarded) < len(content)


def test_over_budget_block_is_cut():
    guarded, reason = guard_block(
        " ".join(f"w{i}" for i in range(5000)), max_chars=1000
    )
    assert reason.startswith("over_budget") and len(guarded) == 1000 + len(
        TRUNCATION_MARK
    )


@pytest.mark.skipif(
    not os.environ.get("OCRBEAM_VL_MODEL_DIRS"),
    reason="PaddleOCR-VL weights are not installable offline: set "
    "OCRBEAM_VL_MODEL_DIRS=layout_dir:vl_rec_dir to run the real model",
)
def test_real_paddleocr_vl_model():  # pragma: no cover - needs the weights
    layout_dir, rec_dir = os.environ["OCRBEAM_VL_MODEL_DIRS"].split(":")
    from paddleocr import PaddleOCRVL

    pipeline = PaddleOCRVL(
        layout_detection_model_dir=layout_dir, vl_rec_model_dir=rec_dir
    )
    [result] = pipeline.predict(str(DATA / "minimal-document.pdf"))[:1]
    row, _ = _convert({"prunedResult": result.json["res"], "markdown": result.markdown})
    assert row.text
