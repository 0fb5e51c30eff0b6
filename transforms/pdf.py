"""Fan documents out into page images.

PDFs are rendered with pypdfium2; images (PNG, JPEG, TIFF including
multi-frame, WebP, BMP, GIF) become one page per frame.  The type is sniffed from
the bytes, never trusted from the file name.

Rendering runs in :class:`PageRenderer`, by default inside a child process
(:mod:`.isolation`): a crash or hang in pdfium or an image decoder costs one
page or document (a ``render_crashed`` / ``page_timeout`` dead letter), never
the worker.  PDFium is not thread-safe, so every pdfium call in a process also
goes through one process-wide lock (``PDFIUM_LOCK``).

Every page of a readable document is accounted for: it is rendered, or it gets
a dead letter with its ``page_index`` (``page_too_large``, ``render_failed``,
``page_timeout``, ``render_crashed``, ``page_limit_exceeded``).
"""

from __future__ import annotations

import functools
import io
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Optional

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics

from .config import RenderConfig, SourceConfig
from .convert import blank_result, text_layer_result
from .isolation import IsolatedWorker, WorkerCrashed, WorkerTimeout
from .progress import ProgressReporter
from .records import DeadLetter, DocumentBlob, PageImage, PageResult, typed

#: One lock for every pypdfium2 call in this process (PDFium is not thread-safe).
PDFIUM_LOCK = threading.Lock()

DEAD_LETTER_TAG = "dead_letter"
#: Rows made without OCR (text layer, blank pages).
DIRECT_TAG = "direct"
STAGE = "split"
#: Images over maxPixels are only downscaled up to this many times the limit;
#: beyond, decoding alone would need gigabytes (a 40k x 40k scan is 1.6 Gpx).
_MAX_IMAGE_DOWNSCALE_FACTOR = 4

_IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"BM", "bmp"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)

_LOG = logging.getLogger(__name__)


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
        self._pdf = self._image = None
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
            raise SplitError("render_failed", "no document is open")
        blank = self._config.skip_blank_pages and is_blank(
            image, self._config.blank_ink_fraction
        )
        png = _encode_png(image, self._config.png_compress_level)
        return png, image.width, image.height, blank

    def text_layer(self, index: int) -> tuple[list[tuple], int, int]:
        """Lines of a PDF page's own text layer, in pixels at the render dpi.

        Returns ``([(text, x1, y1, x2, y2), ...], width_px, height_px)``.
        """
        if self._pdf is None:
            return [], 0, 0
        scale = self._config.dpi / 72.0
        with PDFIUM_LOCK:
            page = self._pdf[index]
            try:
                width, height = page.get_size()
                textpage = page.get_textpage()
                try:
                    raw = _text_lines(textpage)
                finally:
                    textpage.close()
            finally:
                page.close()
        lines = [
            (text, x1 * scale, (height - y2) * scale, x2 * scale, (height - y1) * scale)
            for text, x1, y1, x2, y2 in raw
        ]
        return lines, round(width * scale), round(height * scale)

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


def _text_lines(textpage) -> list[tuple[str, float, float, float, float]]:
    """Lines of a pdfium text page with their boxes, in PDF points.

    Lines follow pdfium's own line breaks; each box is the union of its
    characters' boxes.  (Text rects would do for typeset PDFs, but producers
    that draw every glyph on its own, like Google Docs, give one rect per
    character.)
    """
    import pypdfium2.raw as pdfium_c

    count = textpage.count_chars()
    # One code point per character index (get_text_range's string can differ in
    # length from the character count: generated and non-BMP characters).
    text = "".join(
        chr(pdfium_c.FPDFText_GetUnicode(textpage.raw, i) or 0xFFFD)
        for i in range(count)
    )
    lines = []
    chars: list[str] = []
    box: Optional[list[float]] = None
    for i, ch in enumerate(text + "\n"):
        if ch in "\r\n":
            words = " ".join("".join(chars).split())
            if words and box is not None:
                lines.append((words, *box))
            chars, box = [], None
            continue
        chars.append(ch)
        if ch.isspace():
            continue
        left, bottom, right, top = textpage.get_charbox(i)
        if right <= left and top <= bottom:
            continue
        if box is None:
            box = [left, bottom, right, top]
        else:
            box = [
                min(box[0], left),
                min(box[1], bottom),
                max(box[2], right),
                max(box[3], top),
            ]
    return lines


def is_blank(image, ink_fraction: float) -> bool:
    """True when less than ``ink_fraction`` of the pixels are dark (< 160)."""
    import numpy as np

    gray = np.asarray(image.convert("L"))
    return float((gray < 160).mean()) < ink_fraction


def plausible_text_layer(lines: list[tuple]) -> bool:
    """A text layer worth trusting: some words, mostly ordinary characters."""
    text = "".join(line[0] for line in lines)
    chars = [c for c in text if not c.isspace()]
    if len(chars) < 16:
        return False
    ordinary = sum(1 for c in chars if c.isprintable() and c != "\ufffd")
    return ordinary / len(chars) >= 0.9


class _InProcess:
    """The IsolatedWorker call interface over a renderer in this process."""

    def __init__(self, server: Any):
        self._server = server

    def call(self, method: str, *args, timeout_s=None, **kwargs):
        return getattr(self._server, method)(*args, **kwargs)

    def close(self) -> None:
        pass


def render_pages(data: bytes, config: RenderConfig) -> Iterator[tuple[int, int, Any]]:
    """Yield ``(page_index, page_count, PIL.Image)`` of a PDF or image, in process.

    A convenience for tools and tests; the pipeline uses :class:`_SplitDoFn`.
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


class _SplitDoFn(beam.DoFn):
    def __init__(
        self,
        config: RenderConfig,
        source: SourceConfig,
        config_hash: str,
        fail_fast: bool,
        progress: ProgressReporter,
        route: str = "ocr",
        warm_up: Optional[Callable[[], None]] = None,
    ):
        self._config = config
        self._route = route
        self._warm_up = warm_up
        self._source = source
        self._config_hash = config_hash
        self._fail_fast = fail_fast
        self._progress = progress
        self._renderer = None
        self._documents = Metrics.counter("ocrbeam.split", "documents")
        self._pages = Metrics.counter("ocrbeam.split", "pages")
        self._skipped = Metrics.counter("ocrbeam.split", "pages_already_done")
        self._failed_docs = Metrics.counter("ocrbeam.split", "failed_documents")
        self._failed_pages = Metrics.counter("ocrbeam.split", "failed_pages")
        self._restarts = Metrics.counter("ocrbeam.split", "renderer_restarts")
        self._text_layer = Metrics.counter("ocrbeam.split", "pages_text_layer")
        self._blank = Metrics.counter("ocrbeam.split", "pages_blank")

    def setup(self):
        if self._warm_up is not None:
            # Start loading the next stage's models now, while pages render.
            try:
                self._warm_up()
            except Exception as exc:  # noqa: BLE001 - the OCR stage loads them then
                _LOG.warning("engine warm-up failed (loads later): %s", exc)
        if self._config.isolate:
            self._renderer = IsolatedWorker(
                functools.partial(PageRenderer, self._config),
                timeout_s=self._config.page_timeout_s,
                name="ocrbeam-renderer",
            )
        else:
            self._renderer = _InProcess(PageRenderer(self._config))

    def teardown(self):
        if self._renderer is not None:
            self._renderer.close()

    def finish_bundle(self):
        self._progress.flush()

    def _dead(
        self, blob: DocumentBlob, page_index, error_type, message, page_count=None
    ):
        if self._fail_fast:
            raise SplitError(error_type, f"{blob.source_uri}: {message}")
        if page_index is None:
            self._failed_docs.inc()
        else:
            self._failed_pages.inc()
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
                page_count=page_count,
            ),
        )

    def _size_error(self, blob: DocumentBlob, kind: str) -> Optional[str]:
        limit = (
            self._source.max_pdf_bytes
            if kind == "pdf"
            else self._source.max_image_bytes
        )
        if limit is not None and blob.size > limit:
            what = "PDF" if kind == "pdf" else "image"
            return f"{what} of {blob.size} bytes is over the limit of {limit} bytes"
        return None

    def _open(self, blob: DocumentBlob, kind: str) -> int:
        """Open in the renderer; typed SplitError for every way it can fail."""
        try:
            return self._renderer.call("open", blob.data, kind)
        except WorkerTimeout as exc:
            self._restarts.inc()
            raise SplitError("page_timeout", f"opening the document: {exc}") from None
        except WorkerCrashed as exc:
            self._restarts.inc()
            raise SplitError("render_crashed", f"opening the document: {exc}") from None

    def _without_ocr(self, blob: DocumentBlob, kind: str, index: int, page_count: int):
        """The page's row from its text layer, when the route says so; else None."""
        if kind != "pdf" or self._route == "ocr":
            return None
        start = time.perf_counter()
        lines, width, height = self._renderer.call("text_layer", index)
        if self._route == "auto" and not plausible_text_layer(lines):
            return None
        self._text_layer.inc()
        self._progress.add(pages_found=1, pages_done=1)
        page = PageImage(
            blob.doc_id, blob.source_uri, index, page_count, width, height, b""
        )
        return text_layer_result(
            page,
            lines,
            config_hash=self._config_hash,
            elapsed_ms=(time.perf_counter() - start) * 1000,
        )

    def process(self, blob: DocumentBlob) -> Iterable:
        self._documents.inc()
        self._progress.add(documents=1)
        kind = sniff_type(blob.data)
        if kind is None:
            yield self._dead(
                blob,
                None,
                "unsupported_format",
                "not a PDF or a supported image (sniffed from the bytes)",
            )
            return
        too_big = self._size_error(blob, kind)
        if too_big:
            yield self._dead(blob, None, "file_too_large", too_big)
            return
        try:
            page_count = self._open(blob, kind)
        except SplitError as exc:
            yield self._dead(blob, None, exc.error_type, str(exc))
            return
        limit = page_count
        if self._config.max_pages is not None:
            limit = min(page_count, self._config.max_pages)
        done = set(blob.done_pages or ())
        reopen = False
        try:
            for index in range(limit):
                if index in done:
                    self._skipped.inc()
                    continue
                try:
                    if reopen:
                        self._open(blob, kind)
                        reopen = False
                    direct = self._without_ocr(blob, kind, index, page_count)
                    if direct is not None:
                        yield pvalue.TaggedOutput(DIRECT_TAG, direct)
                        continue
                    start = time.perf_counter()
                    png, width, height, blank = self._renderer.call("render", index)
                    if blank:
                        self._blank.inc()
                        self._progress.add(pages_found=1, pages_done=1)
                        page = PageImage(
                            blob.doc_id,
                            blob.source_uri,
                            index,
                            page_count,
                            width,
                            height,
                            b"",
                        )
                        elapsed = (time.perf_counter() - start) * 1000
                        yield pvalue.TaggedOutput(
                            DIRECT_TAG,
                            blank_result(
                                page, config_hash=self._config_hash, elapsed_ms=elapsed
                            ),
                        )
                        continue
                except SplitError as exc:
                    yield self._dead(blob, index, exc.error_type, str(exc), page_count)
                    continue
                except (WorkerTimeout, WorkerCrashed) as exc:
                    self._restarts.inc()
                    reopen = True
                    error_type = (
                        "page_timeout"
                        if isinstance(exc, WorkerTimeout)
                        else "render_crashed"
                    )
                    yield self._dead(
                        blob, index, error_type, f"page {index}: {exc}", page_count
                    )
                    continue
                self._pages.inc()
                self._progress.add(pages_found=1)
                yield PageImage(
                    doc_id=blob.doc_id,
                    source_uri=blob.source_uri,
                    page_index=index,
                    page_count=page_count,
                    width=width,
                    height=height,
                    image=png,
                )
        finally:
            try:
                self._renderer.call("close_document")
            except (WorkerTimeout, WorkerCrashed):
                pass
        # Pages beyond render.max_pages are accounted for, one row each.
        for index in range(limit, page_count):
            if index not in done:
                yield self._dead(
                    blob,
                    index,
                    "page_limit_exceeded",
                    f"page {index} is beyond render.maxPages={self._config.max_pages}",
                    page_count,
                )


class SplitPages(beam.PTransform):
    """Fan documents out into PNG page images, then break fusion.

    The Reshuffle after the fan-out lets the pages of one document spread across
    workers instead of all running where the document was read.

    Pages that need no OCR (blank pages; PDF pages taken from their text layer
    under ``route`` text_layer or auto) come out as finished ``PageResult`` rows.

    Returns:
        ``(pages, dead_letters, results)``: PCollections of ``PageImage``,
        ``DeadLetter`` and ``PageResult``.

    Example:
        >>> pages, errors, done = blobs | SplitPages(RenderConfig(dpi=150), "cfg")
    """

    def __init__(
        self,
        config: RenderConfig,
        config_hash: str,
        fail_fast: bool = False,
        progress_dir: Optional[str] = None,
        source: Optional[SourceConfig] = None,
        route: str = "ocr",
        warm_up: Optional[Callable[[], None]] = None,
    ):
        super().__init__()
        self._route = route
        self._warm_up = warm_up
        self._config = config
        self._source = source or SourceConfig()
        self._config_hash = config_hash
        self._fail_fast = fail_fast
        self._progress = ProgressReporter(progress_dir, "split")

    def expand(self, blobs):
        outputs = blobs | "Split" >> beam.ParDo(
            _SplitDoFn(
                self._config,
                self._source,
                self._config_hash,
                self._fail_fast,
                self._progress,
                self._route,
                self._warm_up,
            )
        ).with_outputs(DEAD_LETTER_TAG, DIRECT_TAG, main="pages")
        pages = typed(
            typed(outputs.pages, PageImage) | "BreakFusion" >> beam.Reshuffle(),
            PageImage,
        )
        dead = typed(outputs[DEAD_LETTER_TAG], DeadLetter)
        direct = typed(outputs[DIRECT_TAG], PageResult)
        return pages, dead, direct
