"""Listing and reading documents in storage, through fsspec.

Any fsspec URL works (local paths without a scheme, ``gs://``, ``s3://``,
``memory://`` ...).  An input may be a file, a directory (read recursively,
hidden files skipped) or a glob.  Beam-free: the read stage, the launcher's
check of its inputs and the ``--watch`` source all list through here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Optional

_GLOB_CHARS = set("*?[")


def _is_hidden(path: str) -> bool:
    return any(part.startswith(".") for part in path.split("/") if part)


def _uri(fs, path: str) -> str:
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return path if protocol in ("file", "local") else fs.unstrip_protocol(path)


def list_files(pattern: str) -> Iterator[tuple[str, dict]]:
    """``(uri, fsspec info)`` of each file an input names: a file, a directory
    (recursively, hidden files skipped) or a glob; sorted by path.  Yields
    nothing when nothing matches."""
    import fsspec

    fs, path = fsspec.core.url_to_fs(pattern)
    if _GLOB_CHARS & set(path):
        found = fs.glob(path, detail=True)
        entries = {
            p: info for p, info in found.items() if info.get("type") != "directory"
        }
    elif fs.isdir(path):
        entries = {
            p: info
            for p, info in fs.find(path, detail=True).items()
            if not _is_hidden(p[len(path.rstrip("/")) :])
        }
    elif fs.exists(path):
        entries = {path: fs.info(path)}
    else:
        entries = {}
    for p in sorted(entries):
        yield _uri(fs, p), entries[p]


def open_pinned(uri: str, generation: Optional[str] = None):
    """Open a document for reading, at ``generation`` when it names one.

    GCS takes the object generation, S3 the version id; on other filesystems
    a generation cannot be pinned and the current bytes are read.
    """
    import fsspec

    kwargs, options = {}, {}
    if generation:
        protocol = uri.split("://", 1)[0] if "://" in uri else ""
        if protocol in ("gs", "gcs"):
            kwargs["generation"] = generation
        elif protocol in ("s3", "s3a"):
            kwargs["version_id"] = generation
            options["version_aware"] = True  # s3fs refuses versions otherwise
    fs, path = fsspec.core.url_to_fs(uri, **options)
    # Whole documents are read at once: no read-ahead cache (gcsfs's default
    # starts background prefetch tasks that outlive the read).
    return fs.open(path, "rb", cache_type="none", **kwargs)
