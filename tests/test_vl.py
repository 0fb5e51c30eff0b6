"""PaddleOCR-VL: result conversion, the degenerate-output guard, images,
the handler through a /layout-parsing service, and route vl end to end.

PaddleOCR-VL weights are not available offline: the conversion is tested on a
real service response (../shared/fixtures/layout_parsing_response.json, copied
to tests/data), on results built from the documented format (SPEC.md), and on
PaddleX's own result class (what the local pipeline returns) filled with them.
The handler and the pipeline run against a scripted /layout-parsing service on
loopback that answers with those results.
"""

import base64
import io
import json
import os

import pyarrow.parquet as pq
import pytest
from ocrbeam.pipelines.batch import run
from ocrbeam.transforms.config import load_config
from ocrbeam.transforms.convert import (
    TRUNCATION_MARK,
    guard_block,
    place_images,
    vl_page_result,
)
from ocrbeam.transforms.handlers import PaddleOCRVLModelHandler
from ocrbeam.transforms.records import (
    DeadLetter,
    PageImage,
    PageResult,
    PageWithArtifacts,
)
from PIL import Image
from servers import scripted_service

from docs import DATA, SENTENCES, encode, pdf_of_pages, text_image
from ocrbeam.engines.vl import native_layout
from ocrbeam.text.documents import join_pages

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


def _jpeg(colour="red", size=(40, 30)) -> bytes:
    return encode(Image.new("RGB", size, colour), "JPEG")


def test_images_get_a_home_and_links_that_reach_it():
    picture, chart = _jpeg("red"), _jpeg("blue")
    markdown = (
        '<img src="imgs/a.jpg" alt="Image" />\n\n![chart](imgs/chart_1.jpg)\n\n'
        "![lost](imgs/b.jpg) and imgs/a.jpg in running text stays"
    )
    images = {
        "imgs/a.jpg": base64.b64encode(picture).decode(),  # PaddleX serving
        "imgs/chart_1.jpg": "http://svc/chart.jpg",  # the hosted service: a URL
        "imgs/b.jpg": "http://svc/gone.jpg",
    }

    def fetch(url):
        if url.endswith("gone.jpg"):
            raise OSError("404")
        return chart

    out, files, problems = place_images(markdown, images, "images/r-abc/p00002", fetch)
    assert dict(files) == {
        "images/r-abc/p00002/imgs/a.jpg": picture,
        "images/r-abc/p00002/imgs/chart_1.jpg": chart,
    }
    assert 'src="../../images/r-abc/p00002/imgs/a.jpg"' in out
    assert "](../../images/r-abc/p00002/imgs/chart_1.jpg)" in out
    assert "](http://svc/gone.jpg)" in out and problems == [
        "image imgs/b.jpg: not fetched"
    ]
    assert out.endswith("and imgs/a.jpg in running text stays")


def _paddlex_result(layout, page_image=None):
    """PaddleX's own PaddleOCRVL result object, filled from a service result."""
    from paddlex.inference.pipelines.paddleocr_vl.result import (
        PaddleOCRVLBlock,
        PaddleOCRVLResult,
    )

    pruned = layout["prunedResult"]
    blocks = []
    for raw in pruned["parsing_res_list"]:
        block = PaddleOCRVLBlock(
            raw["block_label"], raw["block_bbox"], raw["block_content"]
        )
        if raw["block_label"] == "image":
            x1, y1, x2, y2 = raw["block_bbox"]
            block.image = {
                "path": f"imgs/img_in_image_box_{x1}_{y1}_{x2}_{y2}.jpg",
                "img": page_image or Image.new("RGB", (x2 - x1, y2 - y1), "red"),
            }
        blocks.append(block)
    settings = {"use_doc_preprocessor": False, "use_layout_detection": True}
    return PaddleOCRVLResult(
        {
            "input_path": None, "page_index": None, "page_count": None,
            "width": 800, "height": 531, "model_settings": settings,
            "parsing_res_list": blocks, "imgs_in_doc": [],
            "layout_det_res": pruned.get("layout_det_res", {"boxes": []}),
        }
    )  # fmt: skip


def test_the_local_pipeline_result_converts_like_the_service_response():
    response = json.loads((DATA / "layout_parsing_response.json").read_text())
    [service] = response["result"]["layoutParsingResults"]
    documented = _documented(
        [("paragraph_title", "1. Results"), ("text", "Revenue grew."),
         ("table", "<table><tr><td>4</td></tr></table>")],
        "",
    )  # fmt: skip
    for layout in (service, documented):
        local = native_layout(
            _paddlex_result(layout), 800, 531,
            {"pretty": True, "show_formula_number": False},
        )  # fmt: skip
        local_row, local_images = _convert(local)
        if layout is service:
            service_row, _ = _convert({**service, "dataInfo": {"width": 800}})
            assert local_row.markdown == service_row.markdown
            assert list(local_images) == list(service["markdown"]["images"])
        blocks = json.loads(local_row.result_json)["parsing_res_list"]
        expected = layout["prunedResult"]["parsing_res_list"]
        assert [(b["block_label"], b["block_content"], b["block_bbox"])
                for b in blocks] == [(b["block_label"], b["block_content"],
                                      b["block_bbox"]) for b in expected]  # fmt: skip
    assert local_row.text.split("\n\n")[0] == "1. Results"
    assert "# 1. Results" in local_row.markdown and "<table " in local_row.markdown


def test_vl_flags_decide_page_joins_and_text_decides_without_them():
    pages = [(0, "Intro.\n\nThe results of the study"), (1, "Show growth."),
             (2, "new paragraph here")]  # fmt: skip
    flags = {0: (True, False), 1: (False, True), 2: (True, True)}
    joined = join_pages(pages, 3, flags)
    assert joined.strip().split("\n\n") == [
        "Intro.", "The results of the study Show growth.", "new paragraph here"
    ]  # fmt: skip
    # Without flags: "Show" is upper case, so the text says no join; page 3's
    # lower-case start after a full stop is not joined either.
    assert join_pages(pages, 3).split("\n\n")[1] == "The results of the study"


def _vl_handler(url, *extra):
    config = load_config(
        None, ["route=vl", "vl.backend=remote", f"vl.remoteUrl={url}",
               "vl.remoteMaxRetries=2", *extra],
    )  # fmt: skip
    return PaddleOCRVLModelHandler(config.vl, config.fingerprint())


def _service_answer(layout, width=800, height=531):
    return {
        "logId": "L1", "errorCode": 0, "errorMsg": "Success",
        "result": {"layoutParsingResults": [layout],
                   "dataInfo": {"type": "image", "width": width, "height": height}},
    }  # fmt: skip


def test_handler_through_a_layout_parsing_service():
    response = json.loads((DATA / "layout_parsing_response.json").read_text())
    [layout] = response["result"]["layoutParsingResults"]
    picture = _jpeg("green", (80, 53))
    page_png = encode(text_image(["A picture page"]))
    with scripted_service() as service:
        # The hosted service links images by URL: serve the one it names here.
        [(rel, _url)] = layout["markdown"]["images"].items()
        service.files["/files/picture.jpeg"] = picture
        layout["markdown"]["images"] = {rel: f"{service.url}/files/picture.jpeg"}
        service.script = [
            (429, {"errorCode": 429, "errorMsg": "slow down"}, 0),
            (200, _service_answer(layout), 0),
            (422, {"logId": "L2", "errorCode": 422,
                   "errorMsg": "Invalid input file"}, 0),
        ]  # fmt: skip
        handler = _vl_handler(
            service.url, "vl.topP=0.8", "vl.layoutThreshold={0: 0.4}",
            "vl.promptLabel=table", "vl.useLayoutDetection=false", "vl.visualize=true",
            "vl.remoteBackoffS=0.01",
        )  # fmt: skip
        client = handler.load_model()
        page = PageImage("e" * 64, "gs://b/deck.pdf", 4, 9, 0, 0, page_png)
        ok, rejected = handler.run_inference(
            [page, page._replace(page_index=5)], client
        )
    assert isinstance(ok, PageWithArtifacts)
    row = ok.row
    assert row.route == "vl" and row.engine == "paddleocr_vl/remote"
    assert (row.page_index, row.width, row.height) == (4, 800, 531)
    files = {a.path: a.data for a in ok.artifacts}
    image_path = "images/deck-eeeeeeeeeeee/p00004/imgs/img_in_image_box_0_2_800_531.jpg"
    assert files[image_path] == picture
    assert f'src="../../{image_path}"' in row.markdown
    drawn = Image.open(io.BytesIO(files["visualize/deck-eeeeeeeeeeee/page-00004.jpg"]))
    assert (
        drawn.format == "JPEG" and drawn.size == Image.open(io.BytesIO(page_png)).size
    )
    assert (
        isinstance(rejected, DeadLetter) and rejected.error_type == "service_rejected"
    )
    assert "Invalid input file" in rejected.message and "L2" in rejected.message
    paths = [path for path, _auth, _body in service.seen]
    assert paths == ["/layout-parsing"] * 3
    body = service.seen[1][2]
    assert body["fileType"] == 1 and base64.b64decode(body["file"]) == page_png
    assert body["topP"] == 0.8 and body["layoutThreshold"] == {"0": 0.4}
    assert body["promptLabel"] == "table" and body["useLayoutDetection"] is False
    assert body["visualize"] is False and body["prettifyMarkdown"] is True


def _png_height(body) -> int:
    return Image.open(io.BytesIO(base64.b64decode(body["file"]))).size[1]


@pytest.mark.pipeline
def test_route_vl_end_to_end(tmp_path):
    """``ocrbeam run --set route=vl`` against a /layout-parsing service: page
    rows, images where the markdown links, drawn pages, and a document whose
    paragraph runs across the page break (isEnd / isStart)."""
    folder = tmp_path / "in"
    folder.mkdir()
    # Page 1 has one line, page 2 three: the service tells them apart by height.
    (folder / "report.pdf").write_bytes(pdf_of_pages([SENTENCES[0:1], SENTENCES[1:4]]))
    picture = _jpeg("orange", (60, 40))
    first = _documented(
        [("paragraph_title", "Summary"), ("image", ""),
         ("text", "The survey covered forty sites and found that")],
        '## Summary\n\n<img src="imgs/fig.jpg" />\n\n'
        "The survey covered forty sites and found that",
        is_start=True, is_end=False,
    )  # fmt: skip
    first["markdown"]["images"] = {"imgs/fig.jpg": base64.b64encode(picture).decode()}
    second = _documented(
        [("text", "most had improved."), ("text", "Second paragraph.")],
        "most had improved.\n\nSecond paragraph.",
        is_start=False, is_end=True,
    )  # fmt: skip
    with scripted_service() as service:
        # Answer by page size: which page comes first over the wire is not fixed.
        # The PDF is at 100 dpi, rendered at 50: half the images' heights.
        short, tall = (text_image(SENTENCES[a:b]).size[1] for a, b in ((0, 1), (1, 4)))
        cut = (short + tall) / 4

        def by_size(path, body):
            layout = first if _png_height(body) < cut else second
            return 200, _service_answer(layout), 0

        service.responder = by_size
        out = tmp_path / "out"
        settings = ["route=vl", "vl.backend=remote", f"vl.remoteUrl={service.url}",
                    "vl.visualize=true", "render.dpi=50"]  # fmt: skip
        argv = ["--input", str(folder), "--output", str(out), "--no_progress"]
        outcome = run(argv + [a for s in settings for a in ("--set", s)])
        calls = len(service.seen)
        # Rerun: nothing new to do, so no call, no duplicate row.
        again = run(argv + [a for s in settings for a in ("--set", s)])
        assert len(service.seen) == calls == 2
    assert outcome.summary.ok and outcome.summary.pages_done == 2
    assert again.summary.ok
    rows = pq.read_table(out / "pages").to_pylist()
    assert sorted((r["page_index"], r["route"]) for r in rows) == [(0, "vl"), (1, "vl")]
    [doc_md] = (out / "documents" / "markdown").glob("report-*.md")
    text = doc_md.read_text()
    assert "found that most had improved." in text  # joined across the break
    link = text.split('<img src="')[1].split('"')[0]
    assert (doc_md.parent / link).resolve().read_bytes() == picture
    drawn = sorted(p.name for p in (out / "visualize").glob("report-*/*.jpg"))
    assert drawn == ["page-00000.jpg", "page-00001.jpg"]


@pytest.mark.skipif(
    not os.environ.get("OCRBEAM_VL_MODEL_DIRS"),
    reason="PaddleOCR-VL weights are not installable offline: set "
    "OCRBEAM_VL_MODEL_DIRS=layout_dir:vl_rec_dir to run the real model",
)
def test_real_paddleocr_vl_model(tmp_path):  # pragma: no cover - needs weights
    layout_dir, rec_dir = os.environ["OCRBEAM_VL_MODEL_DIRS"].split(":")
    config = load_config(
        None, ["route=vl", f"vl.layoutDetectionModelDir={layout_dir}",
               f"vl.vlRecModelDir={rec_dir}", "vl.visualize=true"],
    )  # fmt: skip
    handler = PaddleOCRVLModelHandler(config.vl, config.fingerprint())
    engine = handler.load_model()
    png = encode(text_image(SENTENCES[:3]))
    [outcome] = handler.run_inference(
        [PageImage("d", "x.png", 0, 1, 0, 0, png)], engine
    )
    row = outcome.row if isinstance(outcome, PageWithArtifacts) else outcome
    assert isinstance(row, PageResult) and row.route == "vl"
    assert SENTENCES[0].split()[0] in row.text


def test_handler_arguments_are_paddleocrs_own():
    """Every setting reaches PaddleOCRVL under a name its signature takes."""
    import inspect

    from paddleocr import PaddleOCRVL

    config = load_config(
        None, ["route=vl", "vl.backend=vllm-server", "vl.vlRecServerUrl=http://vlm/v1",
               "vl.layoutDetectionModelDir=/m/layout", "vl.device=gpu:1",
               "vl.useChartRecognition=true", "vl.layoutThreshold=0.4",
               "vl.layoutNms=true", "vl.layoutUnclipRatio=1.2",
               "vl.layoutMergeBboxesMode=small", "vl.repetitionPenalty=1.1",
               "vl.temperature=0.2", "vl.topP=0.7", "vl.minPixels=1000",
               "vl.maxPixels=2000000", "vl.vlRecMaxConcurrency=4"],
    )  # fmt: skip
    handler = PaddleOCRVLModelHandler(config.vl, config.fingerprint())
    settings = handler.engine_settings()
    init, predict = settings.pipeline_kwargs, settings.predict_kwargs
    assert init["vl_rec_backend"] == "vllm-server" and init["device"] == "gpu:1"
    assert init["vl_rec_server_url"] == "http://vlm/v1"
    assert predict["top_p"] == 0.7 and predict["layout_merge_bboxes_mode"] == "small"
    init_params = inspect.signature(PaddleOCRVL.__init__).parameters
    predict_params = inspect.signature(PaddleOCRVL.predict).parameters
    assert set(init) - {"device"} <= set(init_params)  # device: a PaddleX kwarg
    assert set(predict) <= set(predict_params)
    # GPU native: one model per machine, shared by the worker processes.
    gpu = load_config(
        None, ["route=vl", "vl.layoutDetectionModelDir=/m/l", "vl.vlRecModelDir=/m/r",
               "vl.device=gpu", "vl.modelCopies=2"],
    )  # fmt: skip
    shared = PaddleOCRVLModelHandler(gpu.vl, gpu.fingerprint())
    assert shared.share_model_across_processes() and shared.model_copies() == 2
    assert not handler.share_model_across_processes()


def _model_folder(path, model_name):
    path.mkdir(parents=True)
    (path / "inference.yml").write_text(f"Global:\n  model_name: {model_name}\n")
    return str(path)


def test_the_default_names_the_models_the_readme_names():
    """PaddleOCR-VL 0.9B with PP-DocLayoutV2 (pipeline v1), passed to
    PaddleOCRVL by name so that PaddleX checks each folder too."""
    config = load_config(None, ["route=vl", "vl.backend=remote",
                                "vl.remoteUrl=http://x"]).vl  # fmt: skip
    assert config.pipeline_version == "v1"
    native = load_config(
        None, ["route=vl", "vl.layoutDetectionModelDir=/m/l", "vl.vlRecModelDir=/m/r"]
    ).vl
    kwargs = PaddleOCRVLModelHandler(native, "h").engine_settings().pipeline_kwargs
    assert kwargs["pipeline_version"] == "v1"
    assert kwargs["layout_detection_model_name"] == "PP-DocLayoutV2"
    assert kwargs["vl_rec_model_name"] == "PaddleOCR-VL-0.9B"
    assert PaddleOCRVLModelHandler(native, "h").model_name == "PaddleOCR-VL-0.9B"
    v16 = load_config(None, ["route=vl", "vl.pipelineVersion=v1.6",
                             "vl.layoutDetectionModelDir=/m/l",
                             "vl.vlRecModelDir=/m/r"]).vl  # fmt: skip
    assert v16.model_names() == {
        "layout_detection_model_name": "PP-DocLayoutV3",
        "vl_rec_model_name": "PaddleOCR-VL-1.6-0.9B",
    }


def test_shipped_vl_configs_name_their_models():
    from pathlib import Path

    configs = Path(__file__).parent.parent / "configs"
    vllm = load_config(str(configs / "vl-vllm.yaml")).vl
    assert vllm.layout_detection_model_name == "PP-DocLayoutV2"
    assert vllm.vl_rec_model_name == "PaddleOCR-VL-0.9B"
    assert vllm.model_names() == {
        "layout_detection_model_name": "PP-DocLayoutV2",
        "vl_rec_model_name": "PaddleOCR-VL-0.9B",
    }


def test_a_model_folder_holding_another_model_is_refused(tmp_path):
    """The folder's inference.yml against the name the config loads, without
    the weights: a PP-DocLayoutV3 folder under pipeline v1 is refused with
    the key to set; the matching version is accepted."""
    from ocrbeam.engines.vl import check_model_dirs

    v3 = _model_folder(tmp_path / "layout", "PP-DocLayoutV3")
    rec = _model_folder(tmp_path / "rec", "PaddleOCR-VL-1.6-0.9B")
    dirs = [f"vl.layoutDetectionModelDir={v3}", f"vl.vlRecModelDir={rec}"]
    wrong = load_config(None, ["route=vl", *dirs]).vl
    with pytest.raises(ValueError, match="holds PP-DocLayoutV3, but "
                       "vl.pipelineVersion=v1 loads PP-DocLayoutV2"):  # fmt: skip
        check_model_dirs(wrong)
    with pytest.raises(ValueError, match="holds PP-DocLayoutV3"):
        PaddleOCRVLModelHandler(wrong, "h").engine_settings()
    check_model_dirs(
        load_config(None, ["route=vl", "vl.pipelineVersion=v1.6", *dirs]).vl
    )
    nameless = tmp_path / "nameless"
    nameless.mkdir()
    unnamed = load_config(
        None, ["route=vl", f"vl.layoutDetectionModelDir={nameless}",
               f"vl.vlRecModelDir={rec}", "vl.pipelineVersion=v1.6"]
    ).vl  # fmt: skip
    with pytest.raises(ValueError, match="no inference.yml naming its model"):
        check_model_dirs(unnamed)
    # Folders this machine lacks are left to the workers (the launcher's check).
    elsewhere = load_config(
        None, ["route=vl", "vl.layoutDetectionModelDir=/no/l", "vl.vlRecModelDir=/no/r"]
    ).vl
    check_model_dirs(elsewhere, only_present=True)
