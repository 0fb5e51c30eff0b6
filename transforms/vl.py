"""PaddleOCR-VL results -> page rows, with a guard against degenerate output.

A layout-parsing result (the ``/layout-parsing`` service's
``layoutParsingResults[i]``, or PaddleOCR's ``PaddleOCRVL`` pipeline result,
which has the same shape) carries ``prunedResult.parsing_res_list`` (blocks in
reading order: ``block_label``, ``block_content``, ``block_bbox``,
``block_order``), ``markdown.text`` with relative image links,
``markdown.images`` (relative path -> Base64 JPEG, or a URL from the hosted
service) and ``markdown.isStart`` / ``isEnd`` (whether the page starts or ends
mid-paragraph).

Vision-language models sometimes loop: a block repeats one phrase until the
token budget runs out.  ``guard_block`` finds a phrase repeated many times in a
row (or a block over a length budget), keeps its first occurrence, marks the
cut, and the page row says which blocks were cut (``flags``).
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any, Optional

from .records import PageImage, PageResult

#: Block labels whose content is not text of the page (pictures, charts as
#: images); their content does not go into the page's plain text.
NON_TEXT_LABELS = {"image", "chart", "seal", "header_image", "footer_image"}
TRUNCATION_MARK = " [...]"


@functools.lru_cache(maxsize=8)
def _repeat_pattern(min_repeats: int) -> re.Pattern:
    """A unit of 1-60 characters followed by ``min_repeats`` more copies."""
    return re.compile(r"(.{1,60}?)(?:\s*\1){" + str(min_repeats) + ",}", re.DOTALL)


def guard_block(
    content: str, min_repeats: int = 8, max_chars: int = 20_000
) -> tuple[str, Optional[str]]:
    """``(content, reason)``: a looping or oversized block cut short.

    A unit of 1-60 characters repeated ``min_repeats`` more times in a row is
    a loop: everything from its second occurrence on is dropped.  A block over
    ``max_chars`` is cut there.  ``reason`` is None for a healthy block.
    """
    for match in _repeat_pattern(min_repeats).finditer(content):
        unit = match.group(1)
        if not unit.strip():
            continue  # runs of spaces or newlines are layout, not a loop
        cut = match.start() + len(unit)
        return content[
            :cut
        ].rstrip() + TRUNCATION_MARK, f"repetition:{unit.strip()[:30]}"
    if len(content) > max_chars:
        return content[:max_chars] + TRUNCATION_MARK, f"over_budget:{len(content)}"
    return content, None


def _blocks(pruned: dict[str, Any]) -> list[dict[str, Any]]:
    return list(pruned.get("parsing_res_list") or [])


def vl_page_result(
    page: PageImage,
    layout: dict[str, Any],
    *,
    engine: str,
    model: str,
    elapsed_ms: float,
    config_hash: str,
    min_repeats: int = 8,
    max_block_chars: int = 20_000,
) -> tuple[PageResult, dict[str, str]]:
    """One page's row from a layout-parsing result, and the page's images
    (relative path -> Base64 or URL) to write next to its markdown."""
    pruned = dict(layout.get("prunedResult") or layout.get("pruned_result") or {})
    markdown_part = layout.get("markdown") or {}
    markdown = str(markdown_part.get("text") or "")
    images = dict(markdown_part.get("images") or {})
    blocks, flags, texts = [], [], []
    for block in _blocks(pruned):
        block = dict(block)
        content = str(block.get("block_content") or "")
        guarded, reason = guard_block(content, min_repeats, max_block_chars)
        if reason:
            flags.append(f"block {block.get('block_id')}: {reason}")
            markdown = markdown.replace(content, guarded) if content else markdown
            block["block_content"] = guarded
            block["truncated"] = reason
        blocks.append(block)
        if guarded.strip() and block.get("block_label") not in NON_TEXT_LABELS:
            texts.append(guarded.strip())
    pruned["parsing_res_list"] = blocks
    pruned["is_start"] = markdown_part.get("isStart")
    pruned["is_end"] = markdown_part.get("isEnd")
    info = layout.get("dataInfo") or {}
    row = PageResult(
        doc_id=page.doc_id,
        source_uri=page.source_uri,
        page_index=page.page_index,
        page_count=page.page_count,
        width=int(info.get("width") or page.width),
        height=int(info.get("height") or page.height),
        engine=engine,
        model=model,
        text="\n\n".join(texts),
        markdown=markdown,
        result_json=json.dumps(pruned, ensure_ascii=False),
        line_count=len(texts),
        mean_score=None,
        elapsed_ms=elapsed_ms,
        config_hash=config_hash,
        orientation_deg=None,
        route="vl",
        flags="; ".join(flags) or None,
    )
    return row, images
