"""Fan documents out into page images.

PDFs are rendered with pypdfium2; images (PNG, JPEG, TIFF including
multi-frame, WebP, BMP, GIF) become one page per frame.  The type is sniffed from
the bytes, never trusted from the file name.

PDFium is not thread-safe and Beam runs several threads per worker process, so
every pdfium call goes through one process-wide lock (``PDFIUM_LOCK``).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterable, Iterator
from typing import Optional

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics

from .config import RenderConfig
from .progress import ProgressReporter
from .records import DeadLetter, DocumentBlob, PageImage, typed

#: One lock for every pypdfium2 call in this process (PDFium is not thread-safe).
PDFIUM_LOCK = threading.Lock()

DEAD_LETTER_TAG = "dead_letter"
STAGE = "split"

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


class SplitError(Exception):
    """A document could not be split into pages; ``error_type`` says why."""

    def __init__(self, error_type: str, message: str):
        super().__init__(message)
        self.error_type = error_type


def _encode_png(image, compress_level: int) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def pdf_page_count(data: bytes) -> int:
    """Number of pages of a PDF (raises pypdfium2's PdfiumError if unreadable)."""
    import pypdfium2 as pdfium

    with PDFIUM_LOCK:
        pdf = pdfium.PdfDocument(data)
        try:
            return len(pdf)
        finally:
            pdf.close()


def render_pdf(data: bytes, config: RenderConfig) -> Iterator[tuple[int, int, object]]:
    """Yield ``(page_index, page_count, PIL.Image)`` for each page to process.

    Rendering holds the pdfium lock per page, not per document, so other threads
    interleave; the image is encoded outside the lock.
    """
    import pypdfium2 as pdfium

    with PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            if "password" in str(exc).lower():
                raise SplitError(
                    "encrypted_pdf", f"the PDF is encrypted and cannot be opened: {exc}"
                ) from None
            raise SplitError(
                "corrupt_pdf", f"pdfium cannot open the file: {exc}"
            ) from None
        page_count = len(pdf)
    try:
        if page_count == 0:
            raise SplitError("empty_pdf", "the PDF has no pages")
        limit = (
            page_count
            if config.max_pages is None
            else min(page_count, config.max_pages)
        )
        scale = config.dpi / 72.0
        for index in range(limit):
            with PDFIUM_LOCK:
                page = pdf[index]
                try:
                    bitmap = page.render(scale=scale)
                    image = bitmap.to_pil().convert("RGB")
                finally:
                    page.close()
            yield index, page_count, image
    finally:
        with PDFIUM_LOCK:
            pdf.close()


def image_frames(data: bytes) -> Iterator[tuple[int, int, object]]:
    """Yield ``(frame_index, frame_count, PIL.Image)`` for an image file."""
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(io.BytesIO(data))
        frame_count = getattr(img, "n_frames", 1)
    except (UnidentifiedImageError, OSError) as exc:
        raise SplitError(
            "corrupt_image", f"the image cannot be decoded: {exc}"
        ) from None
    for index in range(frame_count):
        try:
            img.seek(index)
            frame = img.convert("RGB")
        except (OSError, ValueError, EOFError) as exc:
            raise SplitError(
                "corrupt_image", f"frame {index} cannot be decoded: {exc}"
            ) from None
        yield index, frame_count, frame


class _SplitDoFn(beam.DoFn):
    def __init__(
        self,
        config: RenderConfig,
        config_hash: str,
        fail_fast: bool,
        progress: ProgressReporter,
    ):
        self._config = config
        self._config_hash = config_hash
        self._fail_fast = fail_fast
        self._progress = progress
        self._documents = Metrics.counter("ocrbeam.split", "documents")
        self._pages = Metrics.counter("ocrbeam.split", "pages")
        self._failed = Metrics.counter("ocrbeam.split", "failed_documents")

    def _dead_letter(self, blob: DocumentBlob, page_index, error_type, message):
        return pvalue.TaggedOutput(
            DEAD_LETTER_TAG,
            DeadLetter(
                doc_id=blob.doc_id,
                source_uri=blob.source_uri,
                page_index=page_index,
                stage=STAGE,
                error_type=error_type,
                message=message,
                config_hash=self._config_hash,
            ),
        )

    def finish_bundle(self):
        self._progress.flush()

    def process(self, blob: DocumentBlob) -> Iterable:
        self._documents.inc()
        self._progress.add(documents=1)
        kind = sniff_type(blob.data)
        page_count = 0
        try:
            if kind is None:
                raise SplitError(
                    "unsupported_format",
                    "not a PDF or a supported image (sniffed from the bytes)",
                )
            frames = (
                render_pdf(blob.data, self._config)
                if kind == "pdf"
                else image_frames(blob.data)
            )
            for index, page_count, image in frames:
                yield PageImage(
                    doc_id=blob.doc_id,
                    source_uri=blob.source_uri,
                    page_index=index,
                    page_count=page_count,
                    width=image.width,
                    height=image.height,
                    image=_encode_png(image, self._config.png_compress_level),
                )
                self._pages.inc()
                self._progress.add(pages_found=1)
        except SplitError as exc:
            if self._fail_fast:
                raise
            self._failed.inc()
            yield self._dead_letter(blob, None, exc.error_type, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - every failure becomes a record
            if self._fail_fast:
                raise
            self._failed.inc()
            yield self._dead_letter(
                blob, None, "render_failed", f"{type(exc).__name__}: {exc}"
            )
            return
        # Pages beyond render.max_pages are accounted for, one row each.
        if kind == "pdf" and self._config.max_pages is not None:
            for index in range(self._config.max_pages, page_count):
                yield self._dead_letter(
                    blob,
                    index,
                    "page_limit_exceeded",
                    f"page {index} is beyond render.maxPages={self._config.max_pages}",
                )


class SplitPages(beam.PTransform):
    """Fan documents out into PNG page images, then break fusion.

    The Reshuffle after the fan-out lets the pages of one document spread across
    workers instead of all running where the document was read.

    Returns:
        ``(pages, dead_letters)``: PCollections of ``PageImage`` and ``DeadLetter``.

    Example:
        >>> pages, errors = blobs | SplitPages(RenderConfig(dpi=150), "cfg")
    """

    def __init__(
        self,
        config: RenderConfig,
        config_hash: str,
        fail_fast: bool = False,
        progress_dir: Optional[str] = None,
    ):
        super().__init__()
        self._config = config
        self._config_hash = config_hash
        self._fail_fast = fail_fast
        self._progress = ProgressReporter(progress_dir, "split")

    def expand(self, blobs):
        outputs = blobs | "Split" >> beam.ParDo(
            _SplitDoFn(self._config, self._config_hash, self._fail_fast, self._progress)
        ).with_outputs(DEAD_LETTER_TAG, main="pages")
        pages = typed(
            typed(outputs.pages, PageImage) | "BreakFusion" >> beam.Reshuffle(),
            PageImage,
        )
        dead = typed(outputs[DEAD_LETTER_TAG], DeadLetter)
        return pages, dead
