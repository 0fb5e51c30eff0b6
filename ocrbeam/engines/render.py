"""Rendering documents to page images: what runs in a renderer process.

No Apache Beam here: an isolated renderer process imports this module (and
pypdfium2, Pillow), not Beam, so it starts sooner and carries less memory.
The Beam side (``SplitPages``) is in ``transforms/pdf.py``.
"""

from __future__ import annotations

import io
import math
import re
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Optional

from . import text_layer
from .text_layer import TextLayer

if TYPE_CHECKING:
    from ocrbeam.transforms.config import RenderConfig

#: The name of an isolated renderer process (``isolation.IsolatedWorker``),
#: and what it imports before its first page (``isolation.prestart``).
RENDERER_PROCESS_NAME = "ocrbeam-renderer"
RENDERER_MODULES = ("ocrbeam.engines.render", "pypdfium2", "PIL.Image", "numpy")

#: One lock for every pypdfium2 call in this process (PDFium is not thread-safe).
PDFIUM_LOCK = threading.Lock()

#: Images over maxPixels are only downscaled up to this many times the limit;
#: beyond, decoding alone would need gigabytes (a 40k x 40k scan is 1.6 Gpx).
_MAX_IMAGE_DOWNSCALE_FACTOR = 4
#: Single-frame 8-bit RGB or grey PNG and JPEG images go on as their own
#: bytes when they need no downscaling: the OCR stage decodes them to the same
#: pixels as the PNG it would otherwise get, and the re-encode they are spared
#: would be most of the renderer's work on an image page.  Other modes (alpha,
#: palette, 16-bit, CMYK) and images with an EXIF orientation are re-encoded,
#: so that every decoder (Pillow here, OpenCV in a remote service) sees the
#: same upright RGB page.
_PASS_THROUGH_FORMATS = ("PNG", "JPEG")
_PASS_THROUGH_MODES = ("RGB", "L")
_EXIF_ORIENTATION = 0x0112

_IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"BM", "bmp"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)


def sniff_type(data: bytes) -> Optional[str]:
    """Return 'pdf', an image kind ('png', 'jpeg', ...), or None if unknown.

    PDF readers accept a header anywhere in the first 1024 bytes, so do we.

    >>> sniff_type(b"%PDF-1.7 ..."), sniff_type(b"hello")
    ('pdf', None)
    """
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    for magic, kind in _IMAGE_MAGIC:
        if data.startswith(magic):
            return kind
    return None


#: The ``error_type`` of a call about a page when no document is open (a
#: restarted renderer): the caller opens the document again; never a row.
NOT_OPEN = "document_not_open"


class SplitError(Exception):
    """A document or page could not be split; ``error_type`` says why."""

    def __init__(self, error_type: str, message: str):
        super().__init__(message)
        self.error_type = error_type

    def __reduce__(self):  # picklable across the isolation pipe
        return (SplitError, (self.error_type, str(self)))


def _encode_png(image, compress_level: int) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


_PAGES_COUNT_ZERO = re.compile(
    rb"/Type\s*/Pages\b[^>]*?/Count\s+0\b|/Count\s+0\b[^>]*?/Type\s*/Pages\b"
)
_PAGE_OBJECT = re.compile(rb"/Type\s*/Page\b(?!s)")


def _declares_no_pages(data: bytes) -> bool:
    """True for a PDF whose page tree says /Count 0 and holds no page object."""
    return bool(_PAGES_COUNT_ZERO.search(data)) and not _PAGE_OBJECT.search(data)


def _open_pdf(data: bytes, passwords: list[str]):
    import pypdfium2 as pdfium

    last: Optional[Exception] = None
    for password in [None, *passwords]:
        try:
            return pdfium.PdfDocument(data, password=password)
        except pdfium.PdfiumError as exc:
            if _declares_no_pages(data):
                # PDFium refuses to load a document whose page tree is empty
                # (and its last-error code is stale), so look at the bytes.
                raise SplitError(
                    "empty_pdf", "the PDF has no pages (its page tree is empty)"
                ) from None
            if "password" not in str(exc).lower():
                raise SplitError(
                    "corrupt_pdf", f"pdfium cannot open the file: {exc}"
                ) from None
            last = exc
    if passwords:
        raise SplitError(
            "wrong_password",
            f"the PDF is encrypted and none of the {len(passwords)} configured "
            f"passwords opens it ({last})",
        )
    raise SplitError(
        "encrypted_pdf",
        f"the PDF is encrypted; set render.passwords to open it ({last})",
    )


class PageRenderer:
    """Opens one document at a time and renders its pages to PNG.

    Runs in the worker or, isolated, in a child process (then only picklable
    values cross: bytes, ints, ``SplitError``).
    """

    def __init__(self, config: RenderConfig):
        from PIL import Image

        # We enforce our own pixel limit (config.max_pixels) before decoding.
        Image.MAX_IMAGE_PIXELS = None
        self._config = config
        self._pdf: Any = None
        self._image: Any = None
        self._image_bytes: Optional[bytes] = None
        self._count = 0

    def open(self, data: bytes, kind: str) -> int:
        """Open a document; returns its page (frame) count."""
        self.close_document()
        if kind == "pdf":
            with PDFIUM_LOCK:
                self._pdf = _open_pdf(data, list(self._config.passwords))
                self._count = len(self._pdf)
            if self._count == 0:
                self.close_document()
                raise SplitError("empty_pdf", "the PDF has no pages")
        else:
            from PIL import Image, UnidentifiedImageError

            try:
                self._image = Image.open(io.BytesIO(data))
                self._count = getattr(self._image, "n_frames", 1)
                self._image_bytes = data
            except (UnidentifiedImageError, OSError, ValueError) as exc:
                raise SplitError(
                    "corrupt_image", f"the image cannot be decoded: {exc}"
                ) from None
        return self._count

    def close_document(self) -> None:
        if self._pdf is not None:
            with PDFIUM_LOCK:
                self._pdf.close()
        if self._image is not None:
            self._image.close()
        self._pdf = self._image = self._image_bytes = None
        self._count = 0

    def _limit_scale(self, width: float, height: float, scale: float, index: int):
        """The scale to render at, honouring max_pixels (or raise page_too_large)."""
        limit = self._config.max_pixels
        pixels = width * scale * height * scale
        if limit is None or pixels <= limit:
            return scale
        if not self._config.downscale_oversize:
            raise SplitError(
                "page_too_large",
                f"page {index} would be {int(width * scale)}x{int(height * scale)} "
                f"= {pixels / 1e6:.0f} Mpx, over render.maxPixels={limit}",
            )
        return scale * math.sqrt(limit / pixels)

    def render(self, index: int) -> tuple[bytes, int, int, bool]:
        """Render page ``index``; returns ``(png, width, height, blank)``."""
        if self._pdf is not None:
            image = self._render_pdf_page(index)
        elif self._image is not None:
            image = self._render_frame(index)
        else:
            raise SplitError(NOT_OPEN, "no document is open")
        blank = self._config.skip_blank_pages and is_blank(
            image, self._config.blank_ink_fraction
        )
        png = self._source_bytes(image)
        if png is None:
            png = _encode_png(image, self._config.png_compress_level)
        return png, image.width, image.height, blank

    def _source_bytes(self, frame) -> Optional[bytes]:
        """The open image's own bytes when they can stand for ``frame``."""
        source = self._image
        if (
            self._image_bytes is None
            or self._count != 1
            or source.format not in _PASS_THROUGH_FORMATS
            or source.mode not in _PASS_THROUGH_MODES
            or frame.size != source.size
            or source.getexif().get(_EXIF_ORIENTATION, 1) != 1
        ):
            return None
        return self._image_bytes

    def text_layer(self, index: int) -> TextLayer:
        """A PDF page's own text layer, in pixels at the render dpi, with
        what :func:`.text_layer.verdict` weighs (an image's pages have none)."""
        if self._pdf is None:
            if self._image is None:
                raise SplitError(NOT_OPEN, "no document is open")
            return TextLayer()
        with PDFIUM_LOCK:
            page = self._pdf[index]
            try:
                textpage = page.get_textpage()
                try:
                    return text_layer.read(page, textpage, self._config.dpi / 72.0)
                finally:
                    textpage.close()
            finally:
                page.close()

    def _render_pdf_page(self, index: int):
        try:
            with PDFIUM_LOCK:
                page = self._pdf[index]
                try:
                    width, height = page.get_size()
                    scale = self._limit_scale(
                        width, height, self._config.dpi / 72.0, index
                    )
                    image = page.render(scale=scale).to_pil().convert("RGB")
                finally:
                    page.close()
        except SplitError:
            raise
        except Exception as exc:  # noqa: BLE001 - typed below
            raise SplitError(
                "render_failed", f"page {index}: {type(exc).__name__}: {exc}"
            ) from None
        return image

    def _render_frame(self, index: int):
        img = self._image
        try:
            img.seek(index)
            width, height = img.size
            scale = self._limit_scale(width, height, 1.0, index)
            if scale < 1.0 and 1.0 / (scale * scale) > _MAX_IMAGE_DOWNSCALE_FACTOR:
                raise SplitError(
                    "page_too_large",
                    f"frame {index} is {width}x{height} = {width * height / 1e6:.0f}"
                    f" Mpx, too large to decode even for downscaling",
                )
            frame = img.convert("RGB")
            if scale < 1.0:
                frame = frame.resize(
                    (max(1, int(width * scale)), max(1, int(height * scale)))
                )
        except SplitError:
            raise
        except Exception as exc:  # noqa: BLE001 - typed here
            raise SplitError(
                "corrupt_image", f"frame {index} cannot be decoded: {exc}"
            ) from None
        return frame


def is_blank(image, ink_fraction: float) -> bool:
    """True when less than ``ink_fraction`` of the pixels are dark (< 160)."""
    import numpy as np

    gray = np.asarray(image.convert("L"))
    return float((gray < 160).mean()) < ink_fraction


def render_pages(data: bytes, config: RenderConfig) -> Iterator[tuple[int, int, Any]]:
    """Yield ``(page_index, page_count, PIL.Image)`` of a PDF or image, in process.

    A convenience for tools and tests; the pipeline renders in ``SplitPages``.
    """
    from PIL import Image

    kind = sniff_type(data)
    if kind is None:
        raise SplitError("unsupported_format", "not a PDF or a supported image")
    renderer = PageRenderer(config)
    count = renderer.open(data, kind)
    limit = count if config.max_pages is None else min(count, config.max_pages)
    try:
        for index in range(limit):
            png, _w, _h, _blank = renderer.render(index)
            yield index, count, Image.open(io.BytesIO(png))
    finally:
        renderer.close_document()
