"""Where each file goes under the output prefix.

::

    pages/  errors/  documents/               Parquet tables (transforms/sinks.py)
    jsonl/pages/  jsonl/errors/               the same rows as JSON lines
    markdown/<stem>/page-00003.md             one markdown file per page
    documents/markdown/<stem>.md              one markdown file per document
    images/<stem>/p00003/imgs/<file>.jpg      figures cut out by routes structure, vl
    visualize/<stem>/page-00003.jpg           pages with their boxes drawn

``<stem>`` is ``<file name without extension>-<doc_id[:12]>``.  Page and
document markdown files both sit two folders deep, so one relative link,
``../../images/...``, works from both.
"""

from __future__ import annotations

import posixpath
import re

#: How markdown files under the output reach ``images/``.
MARKDOWN_TO_OUTPUT = "../.."


def join_uri(base: str, *parts: str) -> str:
    """Join path parts onto a local path or URL with forward slashes."""
    return posixpath.join(base.rstrip("/"), *parts)


def page_stem(source_uri: str, doc_id: str) -> str:
    """``<file name without extension>-<doc_id[:12]>``: a document's folder name."""
    stem = posixpath.basename(source_uri.rstrip("/")) or "document"
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", posixpath.splitext(stem)[0])[:80]
    return f"{stem}-{doc_id[:12]}"


def visualize_path(source_uri: str, doc_id: str, page_index: int) -> str:
    """Relative path of a page's drawn image under the output prefix."""
    return posixpath.join(
        "visualize", page_stem(source_uri, doc_id), f"page-{page_index:05d}.jpg"
    )


def image_folder(source_uri: str, doc_id: str, page_index: int) -> str:
    """Relative folder (under the output prefix) of a page's cut-out images."""
    return posixpath.join("images", page_stem(source_uri, doc_id), f"p{page_index:05d}")


def page_markdown_path(
    output: str, source_uri: str, doc_id: str, page_index: int
) -> str:
    """Where one page's markdown file goes."""
    return join_uri(
        output, "markdown", page_stem(source_uri, doc_id), f"page-{page_index:05d}.md"
    )


def document_markdown_path(output: str, source_uri: str, doc_id: str) -> str:
    """Where one document's markdown file goes."""
    return join_uri(
        output, "documents", "markdown", f"{page_stem(source_uri, doc_id)}.md"
    )
