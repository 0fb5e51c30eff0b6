"""Document-level output: the pages of a document assembled back in order.

Once every page of a document is done, ``documents/`` gets one row per
document (``DocumentResult``) and ``markdown/<name>-<doc_id>.md``: the pages'
markdown in page order, with a paragraph that runs over a page break joined
back into one (the previous page ends mid-sentence and the next page starts in
lower case, or PaddleOCR-VL's isStart/isEnd say so; a hyphen at the break is
removed).  Pages that failed or were never
processed are marked with an HTML comment, so a reader sees the gap.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Optional

import apache_beam as beam

from .records import DocumentResult, PageResult, typed
from .vl import continuation_flags

_ENDS_SENTENCE = re.compile(r"[.!?:;)\]\"'”’»]\s*$")
_HYPHENATED = re.compile(r"[A-Za-zÀ-ÿ]-$")


def _continues(previous: str, following: str) -> bool:
    """Does the paragraph ``previous`` run on into ``following``?"""
    if not previous or not following or following.startswith(("#", "- ")):
        return False
    if previous.startswith("#"):
        return False
    return not _ENDS_SENTENCE.search(previous) and following[:1].islower()


Flags = tuple[Optional[bool], Optional[bool]]


def join_pages(
    pages: Sequence[tuple[int, str]],
    page_count: int,
    flags: Optional[Mapping[int, Flags]] = None,
) -> str:
    """Markdown of a document from ``(page_index, page markdown)`` pairs.

    ``flags`` maps a page to ``(is_start, is_end)`` where the engine says
    (PaddleOCR-VL's ``isStart`` / ``isEnd``: the page's first block starts a
    paragraph, its last block ends one).  Across a break where both are known
    they decide; elsewhere the text decides (no sentence end before the
    break, lower case after it).
    """
    by_index = dict(pages)
    flags = flags or {}
    blocks: list[str] = []
    previous_end: Optional[bool] = None
    for index in range(page_count):
        if index not in by_index:
            blocks.append(f"<!-- page {index + 1}: not available -->")
            previous_end = None
            continue
        paragraphs = [p for p in by_index[index].strip().split("\n\n") if p.strip()]
        if not paragraphs:
            continue
        is_start, is_end = flags.get(index, (None, None))
        if previous_end is not None and is_start is not None:
            joined = not previous_end and not is_start
        else:
            joined = bool(blocks) and _continues(blocks[-1], paragraphs[0])
        previous_end = is_end
        if blocks and joined:
            last = blocks.pop()
            if _HYPHENATED.search(last):
                blocks.append(last[:-1] + paragraphs[0])
            else:
                blocks.append(f"{last} {paragraphs[0]}")
            paragraphs = paragraphs[1:]
        blocks.extend(paragraphs)
    return "\n\n".join(blocks) + "\n" if blocks else ""


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
