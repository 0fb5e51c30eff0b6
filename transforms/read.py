"""ReadDocuments: find documents in storage and read their bytes.

Listing and opening go through :mod:`ocrbeam.storage` (fsspec: local paths,
``gs://``, ``s3://``, any fsspec URL).  An input may be a file, a directory
(read recursively, hidden files skipped) or a glob.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Optional

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics

from ocrbeam.storage import list_files, open_pinned

from .config import SourceConfig
from .records import (
    DeadLetter,
    DeadLetterFactory,
    DocumentBlob,
    DocumentRef,
    DonePage,
    typed,
)

DEAD_LETTER_TAG = "dead_letter"
STAGE = "read"


def expand_input(pattern: str) -> Iterator[DocumentRef]:
    """List the documents an input names: a file, a directory, or a glob.

    Yields nothing when nothing matches (the CLI checks that up front).
    """
    for uri, info in list_files(pattern):
        yield DocumentRef(source_uri=uri, size=int(info.get("size") or 0))


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
        self._fail_fast = fail_fast
        self._dead_letter = DeadLetterFactory(STAGE, config_hash)
        self._read = Metrics.counter("ocrbeam.read", "documents")
        self._bytes = Metrics.counter("ocrbeam.read", "bytes")
        self._failed = Metrics.counter("ocrbeam.read", "failed")

    def _dead(self, ref: DocumentRef, error_type: str, message: str):
        if self._fail_fast:
            raise OSError(f"{ref.source_uri}: {error_type}: {message}")
        self._failed.inc()
        return pvalue.TaggedOutput(
            DEAD_LETTER_TAG, self._dead_letter(ref, error_type, message)
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
            with open_pinned(ref.source_uri, ref.generation) as fh:
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
