"""Find documents in storage and read their bytes, through fsspec.

Any fsspec URL works (local paths without a scheme, ``gs://``, ``s3://``,
``memory://`` ...).  An input may be a file, a directory (read recursively,
hidden files skipped) or a glob.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Optional

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics

from .config import SourceConfig
from .records import DeadLetter, DocumentBlob, DocumentRef, DonePage, typed

DEAD_LETTER_TAG = "dead_letter"
STAGE = "read"
_GLOB_CHARS = set("*?[")


def _is_hidden(path: str) -> bool:
    return any(part.startswith(".") for part in path.split("/") if part)


def _uri(fs, path: str) -> str:
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return path if protocol in ("file", "local") else fs.unstrip_protocol(path)


def list_files(pattern: str) -> Iterator[tuple[str, dict]]:
    """``(uri, fsspec info)`` of each file an input names: a file, a directory
    (recursively, hidden files skipped) or a glob; sorted by path."""
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


def expand_input(pattern: str) -> Iterator[DocumentRef]:
    """List the documents an input names: a file, a directory, or a glob.

    Yields nothing when nothing matches (the CLI checks that up front).
    """
    for uri, info in list_files(pattern):
        yield DocumentRef(source_uri=uri, size=int(info.get("size") or 0))


def open_pinned(ref: DocumentRef):
    """Open a document for reading, at ``ref.generation`` when it names one.

    GCS takes the object generation, S3 the version id; on other filesystems
    a generation cannot be pinned and the current bytes are read.
    """
    import fsspec

    kwargs = {}
    if ref.generation:
        protocol = ref.source_uri.split("://", 1)[0] if "://" in ref.source_uri else ""
        if protocol in ("gs", "gcs"):
            kwargs["generation"] = ref.generation
        elif protocol in ("s3", "s3a"):
            kwargs["version_id"] = ref.generation
    fs, path = fsspec.core.url_to_fs(ref.source_uri)
    return fs.open(path, "rb", **kwargs)


def _by_uri(item) -> tuple:
    return item.source_uri, item


def _one_ref_with_done(joined) -> Iterator[tuple]:
    """One ref per URI (overlapping inputs name a file once) with its done pages."""
    _uri_key, groups = joined
    refs = list(groups["ref"])
    if refs:
        yield refs[0], list(groups["done"])


class _ReadDoFn(beam.DoFn):
    def __init__(self, source: SourceConfig, config_hash: str, fail_fast: bool):
        self._source = source
        self._config_hash = config_hash
        self._fail_fast = fail_fast
        self._read = Metrics.counter("ocrbeam.read", "documents")
        self._bytes = Metrics.counter("ocrbeam.read", "bytes")
        self._failed = Metrics.counter("ocrbeam.read", "failed")

    def _dead(self, ref: DocumentRef, error_type: str, message: str):
        if self._fail_fast:
            raise OSError(f"{ref.source_uri}: {error_type}: {message}")
        self._failed.inc()
        return pvalue.TaggedOutput(
            DEAD_LETTER_TAG,
            DeadLetter(
                doc_id=None,
                source_uri=ref.source_uri,
                page_index=None,
                stage=STAGE,
                error_type=error_type,
                message=message,
                config_hash=self._config_hash,
            ),
        )

    def _limit(self) -> Optional[int]:
        limits = (self._source.max_pdf_bytes, self._source.max_image_bytes)
        return None if None in limits else max(limits)

    def process(self, element) -> Iterable:
        ref, done = element
        limit = self._limit()
        if limit is not None and ref.size > limit:
            # Not even read: the type-specific limits are checked after sniffing.
            yield self._dead(
                ref, "file_too_large", f"{ref.size} bytes is over the limit of {limit}"
            )
            return
        try:
            with open_pinned(ref) as fh:
                data = fh.read() if limit is None else fh.read(limit + 1)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a record
            yield self._dead(ref, "read_failed", f"{type(exc).__name__}: {exc}")
            return
        if not data:
            yield self._dead(ref, "empty_file", "the file is empty (0 bytes)")
            return
        if limit is not None and len(data) > limit:
            yield self._dead(ref, "file_too_large", f"over the limit of {limit} bytes")
            return
        self._read.inc()
        self._bytes.inc(len(data))
        doc_id = hashlib.sha256(data).hexdigest()
        yield DocumentBlob(
            doc_id=doc_id,
            source_uri=ref.source_uri,
            size=len(data),
            data=data,
            done_pages=sorted({d.page_index for d in done if d.doc_id == doc_id}),
        )


class ReadDocuments(beam.PTransform):
    """Expand input URLs/globs into documents and read their bytes.

    Files named by several inputs are read once.  ``done`` (pages an earlier run
    already wrote) is joined in by URI, so reruns skip finished pages without
    shuffling any document bytes.  A Reshuffle spreads the reads over workers.

    Returns:
        ``(blobs, dead_letters)``: PCollections of ``DocumentBlob`` and
        ``DeadLetter``.

    Example:
        >>> blobs, errors = p | ReadDocuments(["gs://bucket/scans/*.pdf"], "cfg")
    """

    def __init__(
        self,
        inputs: list[str],
        config_hash: str,
        fail_fast: bool = False,
        source: Optional[SourceConfig] = None,
        done: Optional[beam.PCollection] = None,
    ):
        super().__init__()
        self._inputs = list(inputs)
        self._config_hash = config_hash
        self._fail_fast = fail_fast
        self._source = source or SourceConfig()
        self._done = done

    def expand(self, pbegin):
        refs = (
            pbegin
            | "Inputs" >> beam.Create(self._inputs)
            | "List" >> beam.FlatMap(expand_input).with_output_types(DocumentRef)
            | "KeyRefs" >> beam.Map(_by_uri)
        )
        done = self._done
        if done is None:
            done = pbegin | "NothingDone" >> beam.Create([]).with_output_types(DonePage)
        keyed_done = done | "KeyDone" >> beam.Map(_by_uri)
        tasks = (
            {"ref": refs, "done": keyed_done}
            | "JoinDone" >> beam.CoGroupByKey()
            | "OnePerUri" >> beam.FlatMap(_one_ref_with_done)
        )
        return tasks | "Read" >> ReadBlobs(
            self._source, self._config_hash, self._fail_fast
        )


class ReadBlobs(beam.PTransform):
    """Read the bytes of ``(DocumentRef, [DonePage])`` pairs: the read step
    shared by the batch (``ReadDocuments``) and streaming pipelines.

    Returns:
        ``(blobs, dead_letters)``.
    """

    def __init__(self, source: SourceConfig, config_hash: str, fail_fast: bool):
        super().__init__()
        self._source = source
        self._config_hash = config_hash
        self._fail_fast = fail_fast

    def expand(self, tasks):
        outputs = tasks | "Read" >> beam.ParDo(
            _ReadDoFn(self._source, self._config_hash, self._fail_fast)
        ).with_outputs(DEAD_LETTER_TAG, main="blobs")
        return (
            typed(outputs.blobs, DocumentBlob),
            typed(outputs[DEAD_LETTER_TAG], DeadLetter),
        )
