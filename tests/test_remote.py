"""The remote engine (``ocr.backend: remote``): POST /ocr of a PaddleX service.

Against PaddleX's own serving of the general OCR pipeline on loopback (the
bundled PP-OCRv5 mobile ONNX models), and against a small scripted HTTP server
in this process for the error paths: 429, 500, a timeout, a 400 with a message.
"""

import json

import pytest
from ocrbeam.pipelines.batch import run
from ocrbeam.transforms.config import load_config
from ocrbeam.transforms.handlers import PPOCRv5ModelHandler
from ocrbeam.transforms.records import DeadLetter, PageImage, PageResult
from servers import paddlex_ocr_server, scripted_service

from docs import SENTENCES, encode, pdf_of_pages, text_image
from ocrbeam.engines.remote import ServiceError, parse_ocr_response
from ocrbeam.text.quality import cer

pytestmark = pytest.mark.remote


def _page(png: bytes, index: int = 0) -> PageImage:
    return PageImage("doc", "mem://doc.png", index, 1, 0, 0, png)


def _handler(url: str, *extra: str) -> PPOCRv5ModelHandler:
    config = load_config(None, ["ocr.backend=remote", f"ocr.remoteUrl={url}", *extra])
    return PPOCRv5ModelHandler(config.ocr, config.fingerprint())


@pytest.fixture(scope="module")
def paddlex_url(tmp_path_factory):
    with paddlex_ocr_server(tmp_path_factory.mktemp("paddlex")) as url:
        yield url


@pytest.mark.model
def test_pages_through_paddlex_serving(paddlex_url):
    handler = _handler(paddlex_url)
    client = handler.load_model()
    pages = [_page(encode(text_image(SENTENCES[i : i + 2])), i) for i in (0, 2)]
    results = handler.run_inference(pages, client)
    assert [type(r) for r in results] == [PageResult, PageResult]
    for result, i in zip(results, (0, 2), strict=True):
        assert cer("\n".join(SENTENCES[i : i + 2]), result.text) < 0.05
        assert result.engine == "ppocrv5/remote"
        assert (result.width, result.height) == (1100, 195)
        assert "rec_texts" in json.loads(result.result_json)


@pytest.mark.model
def test_a_file_the_service_cannot_read_is_a_dead_letter(paddlex_url):
    handler = _handler(paddlex_url)
    [dead] = handler.run_inference(
        [_page(b"not an image at all")], handler.load_model()
    )
    assert isinstance(dead, DeadLetter)
    assert dead.error_type == "service_rejected"
    assert "HTTP 422" in dead.message


@pytest.mark.model
@pytest.mark.pipeline
def test_ocrbeam_run_with_the_remote_engine(paddlex_url, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "two.pdf").write_bytes(pdf_of_pages([SENTENCES[0:2], SENTENCES[2:4]]))
    settings = ["ocr.backend=remote", f"ocr.remoteUrl={paddlex_url}", "render.dpi=100"]
    argv = ["--input", str(folder), "--output", str(tmp_path / "out"), "--no_progress"]
    outcome = run(argv + [arg for s in settings for arg in ("--set", s)])
    assert outcome.summary.ok and outcome.summary.pages_done == 2


# -- error paths against a scripted server ------------------------------------
OK = {
    "logId": "1",
    "errorCode": 0,
    "errorMsg": "Success",
    "result": {
        "ocrResults": [
            {
                "prunedResult": {
                    "rec_texts": ["Hello world"],
                    "rec_scores": [0.99],
                    "rec_boxes": [[10, 10, 200, 40]],
                }
            }  # fmt: skip
        ],
        "dataInfo": {"type": "image", "width": 300, "height": 60},
    },
}


@pytest.fixture
def scripted():
    with scripted_service() as service:
        yield service.url, service


def _one(url, *extra):
    handler = _handler(url, "ocr.remoteMaxRetries=2", "ocr.remoteBackoffS=0.01", *extra)
    client = handler.load_model()
    [outcome] = handler.run_inference([_page(encode(text_image(["x"])))], client)
    return outcome


def test_429_and_500_are_retried_then_succeed(scripted, monkeypatch):
    url, server = scripted
    monkeypatch.setenv("OCRBEAM_REMOTE_TOKEN", "s3cret")
    server.script = [
        (429, {"errorCode": 429, "errorMsg": "slow down"}, 0),
        (503, {"errorCode": 503, "errorMsg": "busy"}, 0),
        (200, OK, 0),
    ]
    outcome = _one(url)
    assert isinstance(outcome, PageResult) and outcome.text == "Hello world"
    assert len(server.seen) == 3
    path, auth, body = server.seen[0]
    assert path == "/ocr"
    assert auth == "token s3cret"
    assert body["fileType"] == 1 and body["textDetLimitSideLen"] == 64
    assert body["file"] and "visualize" in body


def test_500_until_retries_are_spent_is_service_unavailable(scripted):
    url, server = scripted
    server.script = [(500, {"errorCode": 500, "errorMsg": "boom"}, 0)] * 3
    outcome = _one(url)
    assert isinstance(outcome, DeadLetter)
    assert outcome.error_type == "service_unavailable"
    assert "3 attempts" in outcome.message and "boom" in outcome.message
    assert len(server.seen) == 3


def test_a_timeout_is_retried_and_reported(scripted):
    url, server = scripted
    server.script = [(200, OK, 2.0)] * 3
    outcome = _one(url, "ocr.remoteTimeoutS=0.3")
    assert isinstance(outcome, DeadLetter)
    assert outcome.error_type == "service_unavailable"
    assert "Timeout" in outcome.message


def test_a_400_is_not_retried_and_keeps_the_services_message(scripted):
    url, server = scripted
    server.script = [(400, {"logId": "abc", "errorCode": 400,
                            "errorMsg": "textDetThresh must be > 0"}, 0)]  # fmt: skip
    outcome = _one(url)
    assert isinstance(outcome, DeadLetter)
    assert outcome.error_type == "service_rejected"
    assert "textDetThresh must be > 0" in outcome.message and "abc" in outcome.message
    assert len(server.seen) == 1


@pytest.mark.parametrize(
    "answer",
    [
        {"logId": "L9", "errorCode": 0, "errorMsg": "Success", "result": None},
        {"logId": "L9", "errorCode": 0, "errorMsg": "Success",
         "result": {"ocrResults": []}},
    ],
    ids=["no-result", "no-page"],
)  # fmt: skip
def test_a_200_without_a_page_result_is_service_bad_response(scripted, answer):
    url, server = scripted
    server.script = [(200, answer, 0)]
    outcome = _one(url)
    assert isinstance(outcome, DeadLetter)
    assert (outcome.stage, outcome.error_type) == ("ocr", "service_bad_response")
    assert outcome.page_index == 0 and outcome.message
    assert len(server.seen) == 1  # a malformed answer is not retried


def test_response_parsing_is_tolerant_and_strict_where_it_must_be():
    ok = parse_ocr_response(200, json.dumps(OK).encode())
    assert ok["pruned"]["rec_texts"] == ["Hello world"] and ok["width"] == 300
    with pytest.raises(ServiceError, match="errorCode 500"):
        parse_ocr_response(
            200, json.dumps({"errorCode": 500, "errorMsg": "x"}).encode()
        )
    with pytest.raises(ServiceError, match="no result"):
        parse_ocr_response(200, b'{"errorCode": 0, "result": {}}')
    with pytest.raises(ServiceError, match="HTTP 502"):
        parse_ocr_response(502, b"<html>bad gateway</html>")


def test_remote_backend_needs_a_url():
    from ocrbeam.transforms.config import ConfigError

    with pytest.raises(ConfigError, match="remoteUrl"):
        load_config(None, ["ocr.backend=remote"])
