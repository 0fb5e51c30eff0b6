"""Fan documents out into page images.

PDFs are rendered with pypdfium2; images (PNG, JPEG, TIFF including
multi-frame, WebP, BMP, GIF) become one page per frame.  The type is sniffed from
the bytes, never trusted from the file name.

Rendering runs in :class:`ocrbeam.engines.render.PageRenderer`, by default
inside a child process (:mod:`ocrbeam.engines.isolation`): a crash or hang in
pdfium or an image decoder costs one page or document (a ``render_crashed`` /
``page_timeout`` dead letter), never the worker.  PDFium is not thread-safe,
so every pdfium call in a process also goes through one process-wide lock
(``PDFIUM_LOCK``).

Every page of a readable document is accounted for: it is rendered, or it gets
a dead letter with its ``page_index`` (``page_too_large``, ``render_failed``,
``page_timeout``, ``render_crashed``, ``page_limit_exceeded``).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable
from typing import Optional

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics

from ocrbeam.engines.isolation import (
    InProcess,
    IsolatedWorker,
    WorkerCrashed,
    WorkerTimeout,
)
from ocrbeam.engines.render import (
    NOT_OPEN,
    RENDERER_PROCESS_NAME,
    PageRenderer,
    SplitError,
    sniff_type,
)
from ocrbeam.engines.text_layer import Verdict, encode_lines, verdict
from ocrbeam.local.progress import ProgressReporter

from .config import RenderConfig, SourceConfig
from .convert import blank_result, text_layer_result
from .records import (
    DeadLetter,
    DeadLetterFactory,
    DocumentBlob,
    PageImage,
    PageResult,
    typed,
)

DEAD_LETTER_TAG = "dead_letter"
#: Rows made without OCR (text layer, blank pages).
DIRECT_TAG = "direct"
STAGE = "split"


class _SplitDoFn(beam.DoFn):
    def __init__(
        self,
        config: RenderConfig,
        source: SourceConfig,
        config_hash: str,
        fail_fast: bool,
        progress: ProgressReporter,
        route: str = "ocr",
        structure: bool = False,
    ):
        self._config = config
        self._route = route
        self._structure = structure
        self._source = source
        self._config_hash = config_hash
        self._fail_fast = fail_fast
        self._dead_letter = DeadLetterFactory(STAGE, config_hash)
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
        if self._config.isolate:
            self._renderer = IsolatedWorker(
                functools.partial(PageRenderer, self._config),
                timeout_s=self._config.page_timeout_s,
                name=RENDERER_PROCESS_NAME,
            )
        else:
            self._renderer = InProcess(PageRenderer(self._config))

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
            self._dead_letter(
                blob,
                error_type,
                message,
                page_index=page_index,
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

    def _page_call(self, blob: DocumentBlob, kind: str, method: str, index: int):
        """A renderer call about one page of the open document.  A renderer
        restarted since the document was opened (it died between two calls:
        the OOM killer does not wait for a call) holds no document: open it
        again and ask once more."""
        try:
            return self._renderer.call(method, index)
        except SplitError as exc:
            if exc.error_type != NOT_OPEN:
                raise
        self._open(blob, kind)
        return self._renderer.call(method, index)

    def _from_text_layer(
        self, blob: DocumentBlob, kind: str, index: int, page_count: int
    ):
        """What the route makes of the page's text layer: ``(row, (None,
        None))``, a finished row from it (route text_layer; route auto without the
        models); else ``(None, (lines, note))`` for the page to be read with
        its image: its lines (JSON) when they stand for its words, or None
        with ``note`` saying why it is OCR'd."""
        if self._route not in ("auto", "text_layer"):
            return None, (None, None)
        if kind != "pdf":
            return None, (None, "not a PDF: no text layer")
        start = time.perf_counter()
        layer = self._page_call(blob, kind, "text_layer", index)
        if self._route == "text_layer":
            found = Verdict(True, "route text_layer")
        else:
            found = verdict(layer, self._config.text_layer)
        if not found.use:
            return None, (None, found.reason)
        self._text_layer.inc()
        if self._structure:
            encoded = encode_lines(layer.lines, found.compare)
            return None, (encoded, found.reason)
        self._progress.add(pages_found=1, pages_done=1)
        page = PageImage(
            blob.doc_id, blob.source_uri, index, page_count,
            layer.width, layer.height, b"",
        )  # fmt: skip
        return text_layer_result(
            page,
            layer.lines,
            config_hash=self._config_hash,
            elapsed_ms=(time.perf_counter() - start) * 1000,
            reason=found.reason,
        ), (None, None)

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
                    direct, (lines, note) = self._from_text_layer(
                        blob, kind, index, page_count
                    )
                    if direct is not None:
                        yield pvalue.TaggedOutput(DIRECT_TAG, direct)
                        continue
                    start = time.perf_counter()
                    png, width, height, blank = self._page_call(
                        blob, kind, "render", index
                    )
                    if blank and lines is None:
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
                    text_layer=lines,
                    text_note=note,
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
    """Fan documents out into page images, then (by default) break fusion.

    The Reshuffle after the fan-out lets the pages of one document spread across
    workers instead of all running where the document was read.  With
    ``break_fusion=False`` the pages go straight on to the next transform in
    the same stage: right when the next stage's engines are shared by every
    worker of the machine anyway (ocrbeam's local engine pool), where a
    Reshuffle would only make Beam's local runner hold every rendered page in
    the launcher's memory, render them all before the first is OCR'd, and
    copy each page image through the launcher twice.

    Pages that need no model (blank pages; PDF pages taken from their text
    layer as lines: ``route`` text_layer, and auto without ``structure``)
    come out as finished ``PageResult`` rows.  Under route auto with
    ``structure`` (the layout and table models run on every page), a PDF
    page whose text layer passes its checks (``render.textLayer``,
    :func:`ocrbeam.engines.text_layer.verdict`) goes on with its lines
    (``PageImage.text_layer``), any other with why it needs OCR
    (``text_note``).

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
        break_fusion: bool = True,
        structure: bool = False,
    ):
        super().__init__()
        self._break_fusion = break_fusion
        self._route = route
        self._structure = structure
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
                self._structure,
            )
        ).with_outputs(DEAD_LETTER_TAG, DIRECT_TAG, main="pages")
        pages = typed(outputs.pages, PageImage)
        if self._break_fusion:
            pages = typed(pages | "BreakFusion" >> beam.Reshuffle(), PageImage)
        dead = typed(outputs[DEAD_LETTER_TAG], DeadLetter)
        direct = typed(outputs[DIRECT_TAG], PageResult)
        return pages, dead, direct
