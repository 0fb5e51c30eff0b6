"""AssembleDocuments: the pages of each document assembled back in order.

Once every page of a document is done, ``documents/`` gets one row per
document (``DocumentResult``) and ``documents/markdown/<name>-<doc_id>.md``:
the pages' markdown joined by :func:`ocrbeam.text.documents.join_pages`
(paragraphs continued across page breaks, missing pages marked).
"""

from __future__ import annotations

from collections.abc import Iterable

import apache_beam as beam

from ocrbeam.text.documents import join_pages

from .convert import continuation_flags
from .records import DocumentResult, PageResult, typed


def assemble(key: tuple[str, str], rows: Iterable[PageResult]) -> DocumentResult:
    """One document's row from its page rows (any order, duplicates ignored)."""
    source_uri, doc_id = key
    pages: dict[int, PageResult] = {}
    for row in rows:
        pages.setdefault(row.page_index, row)
    ordered = [pages[i] for i in sorted(pages)]
    page_count = max(row.page_count for row in ordered)
    flags = {
        r.page_index: continuation_flags(r.result_json)
        for r in ordered
        if r.route == "vl"
    }
    return DocumentResult(
        doc_id=doc_id,
        source_uri=source_uri,
        page_count=page_count,
        pages_done=len(ordered),
        complete=len(ordered) == page_count,
        text="\n\n".join(row.text for row in ordered if row.text),
        markdown=join_pages(
            [(r.page_index, r.markdown) for r in ordered], page_count, flags
        ),
        config_hash=ordered[0].config_hash,
    )


def _by_document(row: PageResult) -> tuple[tuple[str, str], PageResult]:
    return (row.source_uri, row.doc_id), row


def _assemble(item) -> DocumentResult:
    key, rows = item
    return assemble(key, rows)


class AssembleDocuments(beam.PTransform):
    """Group page rows by document and assemble each document's text and markdown.

    Example:
        >>> documents = all_pages | AssembleDocuments()
    """

    def expand(self, pages):
        documents = (
            pages
            | "ByDocument" >> beam.Map(_by_document)
            | "Group" >> beam.GroupByKey()
            | "Assemble" >> beam.Map(_assemble)
        )
        return typed(documents, DocumentResult)
