import io

import numpy as np
import pytest
from ocrbeam.transforms.config import RenderConfig, SourceConfig
from ocrbeam.transforms.pdf import _SplitDoFn
from ocrbeam.transforms.records import DeadLetter, DocumentBlob, PageImage
from PIL import Image

from docs import DATA, SENTENCES, encode, multiframe_tiff, pdf_of_pages, text_image
from ocrbeam.engines.render import SplitError, render_pages, sniff_type
from ocrbeam.local.progress import ProgressReporter


@pytest.mark.parametrize(
    "data, kind",
    [
        (b"%PDF-1.4\n...", "pdf"),
        (b"\x00\x00garbage then %PDF-1.7", "pdf"),
        (b"\x89PNG\r\n\x1a\n....", "png"),
        (b"\xff\xd8\xff\xe0....", "jpeg"),
        (b"II*\x00....", "tiff"),
        (b"MM\x00*....", "tiff"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "webp"),
        (b"BM....", "bmp"),
        (b"<html><body>not a pdf</body></html>", None),
        (b"", None),
    ],
)
def test_sniff_type_reads_bytes_not_names(data, kind):
    assert sniff_type(data) == kind


def test_render_pdf_all_pages_at_configured_dpi():
    data = (DATA / "pdflatex-4-pages.pdf").read_bytes()
    pages = list(render_pages(data, RenderConfig(dpi=72)))
    assert [p[0] for p in pages] == [0, 1, 2, 3]
    assert all(p[1] == 4 for p in pages)
    # A4 at 72 dpi is 595 x 842 points.
    assert abs(pages[0][2].width - 595) <= 1 and abs(pages[0][2].height - 842) <= 1
    hi = next(render_pages(data, RenderConfig(dpi=150)))[2]
    assert abs(hi.width - 595 * 150 / 72) <= 2


def test_encrypted_pdf_is_its_own_error_type():
    data = (DATA / "libreoffice-writer-password.pdf").read_bytes()
    with pytest.raises(SplitError) as err:
        list(render_pages(data, RenderConfig()))
    assert err.value.error_type == "encrypted_pdf"


def test_truncated_pdf_is_corrupt():
    data = (DATA / "minimal-document.pdf").read_bytes()[:300]
    with pytest.raises(SplitError) as err:
        list(render_pages(data, RenderConfig()))
    assert err.value.error_type == "corrupt_pdf"


def test_multiframe_tiff_gives_one_page_per_frame():
    tiff = multiframe_tiff([SENTENCES[:1], SENTENCES[1:2], ["x"]])
    frames = list(render_pages(tiff, RenderConfig()))
    assert [(i, n) for i, n, _ in frames] == [(0, 3), (1, 3), (2, 3)]


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "BMP", "TIFF"])
def test_image_formats(fmt):
    data = encode(text_image(["hello"]), fmt)
    [(index, count, img)] = list(render_pages(data, RenderConfig()))
    assert (index, count) == (0, 1) and img.mode == "RGB"


def _exif_rotated(img: Image.Image) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to view"
    return encode(img, "JPEG", exif=exif)


@pytest.mark.parametrize(
    "make, passed_through",
    [
        (lambda img: encode(img, "PNG"), True),
        (lambda img: encode(img, "JPEG"), True),
        (lambda img: encode(img.convert("L"), "PNG"), True),
        (lambda img: encode(img.convert("RGBA"), "PNG"), False),
        (lambda img: encode(img.convert("P"), "PNG"), False),
        (lambda img: encode(img.convert("CMYK"), "JPEG"), False),
        (lambda img: encode(img, "TIFF"), False),
        (_exif_rotated, False),
    ],
    ids=["png", "jpeg", "grey-png", "rgba-png", "palette-png", "cmyk", "tiff", "exif"],
)
def test_plain_png_and_jpeg_pages_keep_their_bytes(make, passed_through):
    from ocrbeam.engines.images import decode_png

    data = make(text_image(["hello", "world"]))
    [page], dead = split(data)
    assert not dead
    assert (page.image == data) is passed_through
    # What the OCR stage decodes is the page the renderer saw, either way.
    rendered = Image.open(io.BytesIO(data)).convert("RGB")
    assert (page.width, page.height) == rendered.size
    assert (decode_png(page.image)[:, :, ::-1] == np.asarray(rendered)).all()


def test_downscaled_image_is_reencoded():
    data = encode(text_image(["hello"] * 4), "PNG")
    config = RenderConfig(isolate=False, max_pixels=100_000, downscale_oversize=True)
    [page], _ = split(data, config=config)
    assert page.image != data and page.width * page.height <= 100_000


def split_all(
    data: bytes,
    config: RenderConfig = RenderConfig(isolate=False),
    source: SourceConfig = SourceConfig(),
    done=(),
    route: str = "ocr",
    structure: bool = False,
):
    """Run the split DoFn on one document: ``(pages, dead letters, rows)``."""
    progress = ProgressReporter(None, "t")
    fn = _SplitDoFn(config, source, "h", False, progress, route, structure)
    fn.setup()
    try:
        blob = DocumentBlob("id", "mem://doc", len(data), data, list(done))
        outs = list(fn.process(blob))
    finally:
        fn.teardown()
    pages = [o for o in outs if isinstance(o, PageImage)]
    dead = [o.value for o in outs if getattr(o, "tag", None) == "dead_letter"]
    rows = [o.value for o in outs if getattr(o, "tag", None) == "direct"]
    return pages, dead, rows


def split(data: bytes, **kwargs):
    """Run the split DoFn on one document: ``(pages, dead letters)``."""
    pages, dead, _rows = split_all(data, **kwargs)
    return pages, dead


def test_split_emits_png_pages_with_indices():
    pages, dead = split(pdf_of_pages([["a"], ["b"], ["c"]]))
    assert not dead
    assert [(p.page_index, p.page_count) for p in pages] == [(0, 3), (1, 3), (2, 3)]
    img = Image.open(io.BytesIO(pages[0].image))
    assert img.format == "PNG" and img.size == (pages[0].width, pages[0].height)


@pytest.mark.parametrize(
    "data, error_type",
    [
        (b"<html>saved web page</html>", "unsupported_format"),
        (b"", "unsupported_format"),
        (b"%PDF-1.7\n" + b"\x00" * 200, "corrupt_pdf"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, "corrupt_image"),
    ],
)
def test_split_turns_bad_documents_into_dead_letters(data, error_type):
    pages, dead = split(data)
    assert pages == []
    assert len(dead) == 1 and isinstance(dead[0], DeadLetter)
    assert dead[0].error_type == error_type and dead[0].stage == "split"
    assert dead[0].page_index is None and dead[0].message


def test_pages_beyond_max_pages_are_reported_not_dropped():
    pages, dead = split(
        (DATA / "pdflatex-4-pages.pdf").read_bytes(),
        config=RenderConfig(dpi=50, max_pages=1, isolate=False),
    )
    assert [p.page_index for p in pages] == [0]
    assert [(d.page_index, d.error_type) for d in dead] == [
        (1, "page_limit_exceeded"),
        (2, "page_limit_exceeded"),
        (3, "page_limit_exceeded"),
    ]


def test_blank_pages_skip_ocr_and_become_rows():
    from docs import blank_pdf

    pages, dead, rows = split_all(blank_pdf(300, 400, pages=2))
    assert pages == [] and dead == []
    assert [(r.page_index, r.route, r.text, r.engine) for r in rows] == [
        (0, "blank", "", "none"),
        (1, "blank", "", "none"),
    ]


def test_text_layer_route_gives_the_pdf_text_without_ocr():
    import pypdfium2 as pdfium

    from ocrbeam.text.quality import cer

    data = (DATA / "multicolumn.pdf").read_bytes()
    pages, dead, rows = split_all(data, route="text_layer")
    assert pages == [] and dead == []
    assert [r.page_index for r in rows] == [0, 1, 2]
    pdf = pdfium.PdfDocument(data)
    for row in rows:
        truth = pdf[row.page_index].get_textpage().get_text_range()
        assert row.route == "text_layer" and row.engine == "text_layer/pdfium"
        # Same text as pypdfium2 extracts, in the same (column) order.
        assert cer(truth, row.text) < 0.01, row.text[:200]


def test_auto_route_uses_ocr_where_the_text_layer_is_missing():
    # A raster PDF (no text layer) goes to OCR; a born-digital one does not.
    pages, _dead, rows = split_all(pdf_of_pages([SENTENCES[:2]]), route="auto")
    assert len(pages) == 1 and rows == []
    data = (DATA / "minimal-document.pdf").read_bytes()
    pages, _dead, rows = split_all(data, route="auto")
    assert pages == [] and [r.route for r in rows] == ["text_layer"]


def test_route_auto_sends_text_layer_pages_to_the_models_with_their_lines():
    import json

    data = (DATA / "multicolumn.pdf").read_bytes()
    pages, dead, rows = split_all(data, route="auto", structure=True)
    assert dead == [] and rows == [] and len(pages) == 3
    for page in pages:
        assert page.image and page.text_note == "text layer passed its checks"
        lines = json.loads(page.text_layer)["lines"]
        assert all(len(line) == 5 for line in lines)
        # pdfium's hyphen at a line's end is a hyphen, never a control code.
        assert not any("\x02" in line[0] for line in lines)
    # A page without a text layer goes on with why it is OCR'd.
    [page], _, _ = split_all(pdf_of_pages([SENTENCES[:2]]), route="auto",
                             structure=True)  # fmt: skip
    assert page.text_layer is None and page.text_note == "no text layer"
    ignoring = RenderConfig(isolate=False, text_layer="ignore")
    pages, _, _ = split_all(data, ignoring, route="auto", structure=True)
    assert {p.text_note for p in pages} == {"render.textLayer=ignore"}
    assert {p.text_layer for p in pages} == {None}
