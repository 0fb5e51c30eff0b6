"""Typed rows that travel between pipeline stages.

Every record is a ``typing.NamedTuple`` so Beam gives it a schema and a
``RowCoder``: ``WriteToParquet`` and BigQuery sinks derive their table schemas
from these classes, so a column is declared exactly once, here.

Every record carries ``source_uri`` and, once the bytes have been read,
``doc_id`` (sha256 of the document bytes), so any row can be traced back to the
input and reruns can deduplicate.
"""

from typing import NamedTuple, Optional

import apache_beam as beam


class DocumentRef(NamedTuple):
    """A document found in storage, before its bytes are read.

    ``generation`` pins the read to one version of the object (a GCS object
    generation from a notification, an S3 version id); None reads the latest.
    """

    source_uri: str
    size: int
    generation: Optional[str] = None


class DocumentBlob(NamedTuple):
    """A document's bytes, with their content hash.

    ``done_pages`` lists the pages an earlier run into the same output already
    produced with the same config: they are not rendered or OCR'd again.
    """

    doc_id: str
    source_uri: str
    size: int
    data: bytes
    done_pages: list[int]


class DonePage(NamedTuple):
    """A page already present in the output (read back for idempotent reruns)."""

    source_uri: str
    doc_id: str
    page_index: int


class PageImage(NamedTuple):
    """One page of a document, rendered and encoded, ready for OCR.

    ``image`` is a PNG, or a single-frame PNG or JPEG source image's own
    bytes (they decode to the same pixels; see ``render.PageRenderer``).

    ``text_layer``: the PDF page's own text-layer lines (JSON, from
    :func:`ocrbeam.engines.text_layer.encode_lines`) when they stand for the
    page's words, else None; ``text_note``: why the page is OCR'd instead
    (its text layer failed a check, or there is none)."""

    doc_id: str
    source_uri: str
    page_index: int
    page_count: int
    width: int
    height: int
    image: bytes
    text_layer: Optional[str] = None
    text_note: Optional[str] = None


class PageResult(NamedTuple):
    """The OCR result of one page: one row of ``pages/``."""

    doc_id: str
    source_uri: str
    page_index: int
    page_count: int
    width: int
    height: int
    engine: str
    model: str
    text: str
    markdown: str
    result_json: str
    line_count: int
    mean_score: Optional[float]
    elapsed_ms: float
    config_hash: str
    orientation_deg: Optional[int]
    route: str
    #: Problems the page's output was cut for (e.g. a VLM repetition loop);
    #: None for a clean page.
    flags: Optional[str] = None
    #: Where the page's words came from: ``text_layer`` (the PDF's own),
    #: ``ocr`` (also when OCR found no word), or None (a blank page, which
    #: no model read; rows written before 0.3.0).
    text_source: Optional[str] = None
    #: Why: the text layer's check that passed or failed, or the setting.
    text_source_reason: Optional[str] = None


class DocumentResult(NamedTuple):
    """A whole document, pages in order: one row of ``documents/``."""

    doc_id: str
    source_uri: str
    page_count: int
    pages_done: int
    complete: bool
    text: str
    markdown: str
    config_hash: str


class DeadLetter(NamedTuple):
    """A document or page that could not be processed: one row of ``errors/``.

    ``page_index`` is None when the whole document failed (for example it could
    not be read or parsed); ``doc_id`` is None when the bytes were never read;
    ``page_count`` is the document's page count when it is known.
    """

    doc_id: Optional[str]
    source_uri: str
    page_index: Optional[int]
    stage: str
    error_type: str
    message: str
    config_hash: str
    page_count: Optional[int] = None


class DeadLetterFactory:
    """Makes one stage's ``DeadLetter`` rows: the one place that says what a
    dead letter holds.  Picklable (a DoFn keeps one).

    Example:
        >>> dead_letter = DeadLetterFactory("split", config_hash)
        >>> dead_letter(blob, "corrupt_pdf", "pdfium cannot open the file")
        >>> dead_letter(blob, "page_timeout", "...", page_index=3, page_count=9)
    """

    def __init__(self, stage: str, config_hash: str):
        self.stage = stage
        self.config_hash = config_hash

    def __call__(
        self,
        item: object,
        error_type: str,
        message: str,
        *,
        page_index: Optional[int] = None,
        page_count: Optional[int] = None,
        source_uri: Optional[str] = None,
    ) -> DeadLetter:
        """The dead letter of ``item`` (a ``DocumentRef``, ``DocumentBlob`` or
        ``PageImage``: its ``doc_id``, ``source_uri``, ``page_index`` and
        ``page_count`` where it has them, unless given here)."""

        def given_or(value, name):
            return value if value is not None else getattr(item, name, None)

        return DeadLetter(
            doc_id=getattr(item, "doc_id", None),
            source_uri=given_or(source_uri, "source_uri") or "<unknown>",
            page_index=given_or(page_index, "page_index"),
            stage=self.stage,
            error_type=error_type,
            message=message,
            config_hash=self.config_hash,
            page_count=given_or(page_count, "page_count"),
        )


class PageArtifact(NamedTuple):
    """A file that belongs with a page's output: an image cut out of the page
    (a figure or chart its markdown links to), or the page with its boxes drawn
    (``visualize``).  ``path`` is relative to the output prefix."""

    doc_id: str
    source_uri: str
    page_index: int
    path: str
    data: bytes


class PageWithArtifacts(NamedTuple):
    """A handler's outcome for a page that comes with files to write."""

    row: PageResult
    artifacts: list[PageArtifact]


for _record in (
    DocumentRef,
    DocumentBlob,
    DonePage,
    PageImage,
    PageResult,
    DocumentResult,
    DeadLetter,
    PageArtifact,
):
    beam.coders.registry.register_coder(_record, beam.coders.RowCoder)


def typed(pcoll: "beam.PCollection", record_type: type) -> "beam.PCollection":
    """Declare the element type of a PCollection made by a multi-output ParDo.

    Beam infers no types for tagged outputs; declaring them here makes the
    runner use ``RowCoder`` and lets the Parquet/BigQuery sinks derive schemas.
    """
    pcoll.element_type = record_type
    return pcoll
