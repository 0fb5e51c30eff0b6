"""Find documents in storage and read their bytes, through fsspec.

Any fsspec URL works (local paths without a scheme, ``gs://``, ``s3://``,
``memory://`` ...).  An input may be a file, a directory (read recursively,
hidden files skipped) or a glob.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics

from .records import DeadLetter, DocumentBlob, DocumentRef, typed

DEAD_LETTER_TAG = "dead_letter"
STAGE = "read"
_GLOB_CHARS = set("*?[")


def _is_hidden(path: str) -> bool:
    return any(part.startswith(".") for part in path.split("/") if part)


def _uri(fs, path: str) -> str:
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return path if protocol in ("file", "local") else fs.unstrip_protocol(path)


def expand_input(pattern: str) -> Iterator[DocumentRef]:
    """List the documents an input names: a file, a directory, or a glob.

    Yields nothing when nothing matches (the CLI checks that up front).
    """
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
        yield DocumentRef(source_uri=_uri(fs, p), size=int(entries[p].get("size") or 0))


def input_matches_anything(pattern: str) -> bool:
    """True when an input names at least one document."""
    return next(iter(expand_input(pattern)), None) is not None


class _ReadDoFn(beam.DoFn):
    def __init__(self, config_hash: str, fail_fast: bool):
        self._config_hash = config_hash
        self._fail_fast = fail_fast
        self._read = Metrics.counter("ocrbeam.read", "documents")
        self._bytes = Metrics.counter("ocrbeam.read", "bytes")
        self._failed = Metrics.counter("ocrbeam.read", "failed")

    def process(self, ref: DocumentRef) -> Iterable:
        import fsspec

        try:
            with fsspec.open(ref.source_uri, "rb") as fh:
                data = fh.read()
        except Exception as exc:  # noqa: BLE001 - every failure becomes a record
            if self._fail_fast:
                raise
            self._failed.inc()
            yield pvalue.TaggedOutput(
                DEAD_LETTER_TAG,
                DeadLetter(
                    doc_id=None,
                    source_uri=ref.source_uri,
                    page_index=None,
                    stage=STAGE,
                    error_type="read_failed",
                    message=f"{type(exc).__name__}: {exc}",
                    config_hash=self._config_hash,
                ),
            )
            return
        self._read.inc()
        self._bytes.inc(len(data))
        yield DocumentBlob(
            doc_id=hashlib.sha256(data).hexdigest(),
            source_uri=ref.source_uri,
            size=len(data),
            data=data,
        )


class ReadDocuments(beam.PTransform):
    """Expand input URLs/globs into documents and read their bytes.

    A Reshuffle between listing and reading spreads the reads over workers.

    Returns:
        ``(blobs, dead_letters)``: PCollections of ``DocumentBlob`` and
        ``DeadLetter``.

    Example:
        >>> blobs, errors = p | ReadDocuments(["gs://bucket/scans/*.pdf"], "cfg")
    """

    def __init__(self, inputs: list[str], config_hash: str, fail_fast: bool = False):
        super().__init__()
        self._inputs = list(inputs)
        self._config_hash = config_hash
        self._fail_fast = fail_fast

    def expand(self, pbegin):
        refs = (
            pbegin
            | "Inputs" >> beam.Create(self._inputs)
            | "List" >> beam.FlatMap(expand_input).with_output_types(DocumentRef)
            | "Spread" >> beam.Reshuffle()
        )
        outputs = refs | "Read" >> beam.ParDo(
            _ReadDoFn(self._config_hash, self._fail_fast)
        ).with_outputs(DEAD_LETTER_TAG, main="blobs")
        return (
            typed(outputs.blobs, DocumentBlob),
            typed(outputs[DEAD_LETTER_TAG], DeadLetter),
        )
