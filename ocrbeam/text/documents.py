"""A document's markdown from its pages' markdown, in page order.

A paragraph that runs over a page break is joined back into one: the
previous page ends mid-sentence and the next page starts in lower case, or
PaddleOCR-VL's ``isStart`` / ``isEnd`` say so; a hyphen at the break is
removed.  Pages that failed or were never processed are marked with an HTML
comment, so a reader sees the gap.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Optional

_ENDS_SENTENCE = re.compile(r"[.!?:;)\]\"'”’»]\s*$")
_HYPHENATED = re.compile(r"[A-Za-zÀ-ÿ]-$")

#: ``(is_start, is_end)`` of a page: its first block starts a paragraph, its
#: last block ends one (None: unknown).
Flags = tuple[Optional[bool], Optional[bool]]


def _continues(previous: str, following: str) -> bool:
    """Does the paragraph ``previous`` run on into ``following``?"""
    if not previous or not following or following.startswith(("#", "- ")):
        return False
    if previous.startswith("#"):
        return False
    return not _ENDS_SENTENCE.search(previous) and following[:1].islower()


def join_pages(
    pages: Sequence[tuple[int, str]],
    page_count: int,
    flags: Optional[Mapping[int, Flags]] = None,
) -> str:
    """Markdown of a document from ``(page_index, page markdown)`` pairs.

    ``flags`` maps a page to ``(is_start, is_end)`` where the engine says
    (PaddleOCR-VL's ``isStart`` / ``isEnd``).  Across a break where both are
    known they decide; elsewhere the text decides (no sentence end before the
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
