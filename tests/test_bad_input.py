"""Every way a document can be bad becomes a typed dead letter (real bytes)."""

import os

import pytest
from ocrbeam.transforms.config import RenderConfig, SourceConfig
from test_pdf import split

from docs import (
    DATA,
    SENTENCES,
    blank_pdf,
    encode,
    huge_bilevel_png,
    pdf_of_pages,
    text_image,
    zero_page_pdf,
)

GOOD_PDF = (DATA / "minimal-document.pdf").read_bytes()
LOCKED_PDF = (DATA / "libreoffice-writer-password.pdf").read_bytes()


def _one_doc_error(data, **kwargs):
    pages, dead = split(data, **kwargs)
    assert pages == [], "no page of a bad document is emitted"
    assert len(dead) == 1, dead
    assert dead[0].page_index is None and dead[0].stage == "split" and dead[0].message
    return dead[0]


@pytest.mark.parametrize(
    "data, error_type",
    [
        (os.urandom(4096), "unsupported_format"),
        (
            b"<!DOCTYPE html><html><body>saved as .pdf</body></html>",
            "unsupported_format",
        ),
        (GOOD_PDF[: len(GOOD_PDF) // 3], "corrupt_pdf"),
        (b"%PDF-1.7\n" + os.urandom(2000), "corrupt_pdf"),
        (zero_page_pdf(), "empty_pdf"),
        (LOCKED_PDF, "encrypted_pdf"),
        (b"\x89PNG\r\n\x1a\n" + os.urandom(64), "corrupt_image"),
    ],
    ids=[
        "random",
        "html",
        "truncated-pdf",
        "junk-pdf",
        "zero-pages",
        "encrypted",
        "png-without-header",
    ],
)
def test_bad_documents(data, error_type):
    assert _one_doc_error(data).error_type == error_type


def test_empty_file_is_its_own_type(tmp_path):
    from ocrbeam.transforms.read import _ReadDoFn
    from ocrbeam.transforms.records import DocumentRef

    (tmp_path / "empty.pdf").write_bytes(b"")
    fn = _ReadDoFn(SourceConfig(), "h", fail_fast=False)
    [out] = list(fn.process((DocumentRef(str(tmp_path / "empty.pdf"), 0), [])))
    assert out.value.error_type == "empty_file" and out.value.stage == "read"


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_a_file_that_cannot_be_read_is_read_failed(tmp_path, kind):
    """Listed, then gone (or never a file): the read stage's own dead letter."""
    from ocrbeam.transforms.read import _ReadDoFn
    from ocrbeam.transforms.records import DocumentRef

    path = tmp_path / "scan.pdf"
    if kind == "directory":
        path.mkdir()
    fn = _ReadDoFn(SourceConfig(), "h", fail_fast=False)
    [out] = list(fn.process((DocumentRef(str(path), 100), [])))
    dead = out.value
    assert (dead.stage, dead.error_type, dead.doc_id) == ("read", "read_failed", None)
    assert dead.source_uri == str(path) and "Error" in dead.message


def test_truncated_image_whose_header_reads_fails_its_page():
    data = encode(text_image(SENTENCES[:3]))
    pages, dead = split(data[: len(data) // 2])
    assert pages == []
    assert [(d.page_index, d.page_count, d.error_type) for d in dead] == [
        (0, 1, "corrupt_image")
    ]


def test_wrong_password_is_its_own_type_and_the_right_one_opens():
    wrong = RenderConfig(isolate=False, passwords=["hunter2"], dpi=50)
    assert _one_doc_error(LOCKED_PDF, config=wrong).error_type == "wrong_password"
    right = RenderConfig(isolate=False, passwords=["hunter2", "openpassword"], dpi=50)
    pages, dead = split(LOCKED_PDF, config=right)
    assert dead == [] and len(pages) >= 1


def test_files_over_the_size_limits():
    small = SourceConfig(max_pdf_bytes=1000, max_image_bytes=100)
    assert _one_doc_error(GOOD_PDF, source=small).error_type == "file_too_large"
    png = encode(text_image(["hello"]))
    assert _one_doc_error(png, source=small).error_type == "file_too_large"
    unlimited = SourceConfig(max_pdf_bytes=None, max_image_bytes=None)
    pages, dead = split(png, source=unlimited)
    assert len(pages) == 1 and not dead


def test_decompression_bomb_image_is_refused_before_decoding():
    bomb = huge_bilevel_png(40_000, 40_000)  # 1.6 Gpx in a few hundred KB
    assert len(bomb) < 1_000_000
    pages, dead = split(bomb)
    assert pages == []
    assert [(d.page_index, d.error_type) for d in dead] == [(0, "page_too_large")]
    assert "Mpx" in dead[0].message


def test_oversize_pdf_page_fails_or_is_downscaled_as_configured():
    big = blank_pdf(5000, 5000)  # 10417 x 10417 px at 150 dpi = 108 Mpx
    pages, dead = split(big, config=RenderConfig(isolate=False))
    assert pages == [] and [d.error_type for d in dead] == ["page_too_large"]
    cfg = RenderConfig(
        isolate=False,
        downscale_oversize=True,
        max_pixels=4_000_000,
        skip_blank_pages=False,  # the test page is blank; we want its image
    )
    pages, dead = split(big, config=cfg)
    assert dead == [] and pages[0].width * pages[0].height <= 4_000_000
    assert pages[0].width > 1900


def test_render_failure_is_a_page_level_dead_letter():
    # 14400 pt at 1200 dpi with no pixel limit: PDFium cannot allocate the bitmap.
    data = blank_pdf(14400, 14400)
    pages, dead = split(
        data, config=RenderConfig(isolate=False, dpi=1200, max_pixels=None)
    )
    assert pages == []
    assert [(d.page_index, d.error_type, d.page_count) for d in dead] == [
        (0, "render_failed", 1)
    ]


def test_render_timeout_kills_the_renderer_and_moves_on():
    data = pdf_of_pages([SENTENCES[:2], SENTENCES[2:4]])
    cfg = RenderConfig(isolate=True, page_timeout_s=0.001)
    pages, dead = split(data, config=cfg)
    assert pages == []
    assert {d.error_type for d in dead} == {"page_timeout"}


def test_isolated_rendering_gives_the_same_pages():
    data = pdf_of_pages([SENTENCES[:2], SENTENCES[2:4]])
    inproc, _ = split(data, config=RenderConfig(isolate=False, dpi=72))
    isolated, _ = split(data, config=RenderConfig(isolate=True, dpi=72))
    assert [p.image for p in inproc] == [p.image for p in isolated]


def test_pages_done_before_are_not_rendered_again():
    data = (DATA / "pdflatex-4-pages.pdf").read_bytes()
    pages, dead = split(data, config=RenderConfig(isolate=False, dpi=30), done=[0, 2])
    assert [p.page_index for p in pages] == [1, 3] and dead == []


@pytest.mark.model
def test_ocr_page_timeout_is_a_dead_letter_and_the_engine_recovers():
    """A page that takes longer than ocr.pageTimeoutS (a dense page of 160
    lines: many seconds on one thread) is a page_timeout dead letter, its
    engine process is killed and replaced, and the next page reads fine."""
    from ocrbeam.transforms.config import PPOCRv5Config
    from ocrbeam.transforms.handlers import PPOCRv5ModelHandler
    from ocrbeam.transforms.records import DeadLetter, PageImage, PageResult

    def page(lines, index):
        img = text_image(lines)
        png = encode(img)
        return PageImage("d", "mem://x.png", index, 2, img.width, img.height, png)

    config = PPOCRv5Config(page_timeout_s=2.0)
    handler = PPOCRv5ModelHandler(config, "h", cpu_threads=1)
    engine = handler.load_model()
    try:
        [dead] = handler.run_inference([page(SENTENCES * 20, 0)], engine)
        assert isinstance(dead, DeadLetter) and dead.error_type == "page_timeout"
        assert dead.page_index == 0 and "did not answer within 2 s" in dead.message
        [row] = handler.run_inference([page(SENTENCES[:1], 1)], engine)
        assert isinstance(row, PageResult) and "Invoice" in row.text
        assert engine.loads == 2  # the killed engine process was replaced once
    finally:
        engine.close()
