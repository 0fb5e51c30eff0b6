"""Sinks: pages/, errors/ and documents/ as Parquet (and JSON lines),
markdown files, and the files that come with pages.

Parquet schemas are derived from the record types (``PageResult``,
``DeadLetter``, ``DocumentResult``) by Beam's schema machinery: no
hand-written twin to drift.  Batch runs name their files by run id::

    pages/run-<run id>-SSSSS-of-NNNNN.parquet    one row per page (PageResult)
    errors/run-<run id>-SSSSS-of-NNNNN.parquet   one row per failure (DeadLetter)
    documents/run-<run id>-SSSSS-of-NNNNN.parquet   one row per document
    jsonl/pages/run-*.jsonl, jsonl/errors/run-*.jsonl   (sink.jsonl)

JSON lines live apart from the Parquet folders so that ``pages/`` and
``errors/`` each read as one Parquet dataset (pyarrow, BigQuery external
tables, Spark).  Where every other file goes: :mod:`ocrbeam.output.paths`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import apache_beam as beam

from ocrbeam.output.paths import (
    document_markdown_path,
    join_uri,
    page_markdown_path,
)

from .config import SinkConfig
from .records import DeadLetter, DocumentResult, PageArtifact, PageResult, typed


def arrow_schema(record_type):
    """The Parquet (Arrow) schema of a record type, through Beam's schema of it."""
    from apache_beam.typehints import schemas
    from apache_beam.typehints.arrow_type_compatibility import (
        arrow_schema_from_beam_schema,
    )

    return arrow_schema_from_beam_schema(schemas.schema_from_element_type(record_type))


def as_dict(row) -> dict:
    """A record as the dict Beam's Parquet and BigQuery sinks write."""
    return row._asdict()


def _to_json_line(row) -> str:
    return json.dumps(row._asdict(), ensure_ascii=False)


def markdown_path(output: str, row) -> str:
    """Where the markdown file of one page, or of one whole document, goes."""
    if isinstance(row, DocumentResult):
        return document_markdown_path(output, row.source_uri, row.doc_id)
    return page_markdown_path(output, row.source_uri, row.doc_id, row.page_index)


class _WriteMarkdownFiles(beam.DoFn):
    def __init__(self, output: str):
        self._output = output

    def process(self, row) -> Iterable[str]:
        import fsspec

        path = markdown_path(self._output, row)
        with fsspec.open(path, "w", encoding="utf-8", auto_mkdir=True) as fh:
            fh.write(row.markdown)
        yield path


class _WriteTable(beam.PTransform):
    def __init__(
        self, output: str, name: str, config: SinkConfig, run_id: str, record_type
    ):
        super().__init__()
        self._record_type = record_type
        self._prefix = join_uri(output, name, f"run-{run_id}")
        self._jsonl_prefix = join_uri(output, "jsonl", name, f"run-{run_id}")
        self._config = config

    def expand(self, rows):
        written = []
        if self._config.parquet:
            # Rows go in as dicts with an explicit schema rather than as Beam
            # Rows: Beam's Row path converts with a batched DoFn, which runners
            # without batched DoFns (Beam's DaskRunner) cannot execute.
            written.append(
                rows
                | "AsDict" >> beam.Map(as_dict)
                | "Parquet"
                >> beam.io.WriteToParquet(
                    self._prefix,
                    schema=arrow_schema(self._record_type),
                    file_name_suffix=".parquet",
                    num_shards=self._config.num_shards,
                    codec="snappy",
                )
            )
        if self._config.jsonl:
            written.append(
                rows
                | "ToJson" >> beam.Map(_to_json_line)
                | "JsonLines"
                >> beam.io.WriteToText(
                    self._jsonl_prefix,
                    file_name_suffix=".jsonl",
                    num_shards=self._config.num_shards,
                )
            )
        return written


class WriteMarkdownFiles(beam.PTransform):
    """One markdown file per page (``markdown/``) or per document
    (``documents/markdown/``), named by its page or document, so that a rerun
    replaces rather than doubles it.

    Example:
        >>> pages | WriteMarkdownFiles("gs://bucket/ocr-out")
    """

    def __init__(self, output: str):
        super().__init__()
        self._output = output

    def expand(self, rows):
        return rows | "Write" >> beam.ParDo(_WriteMarkdownFiles(self._output))


class WritePages(beam.PTransform):
    """Write ``PageResult`` rows under ``<output>/pages/`` (and markdown files).

    Example:
        >>> results | WritePages("gs://bucket/ocr-out", SinkConfig(jsonl=True))
    """

    def __init__(self, output: str, config: SinkConfig, run_id: str = "manual"):
        super().__init__()
        self._output = output
        self._config = config
        self._run_id = run_id

    def expand(self, pages):
        pages = typed(pages, PageResult)
        written = pages | "Table" >> _WriteTable(
            self._output, "pages", self._config, self._run_id, PageResult
        )
        if self._config.markdown_files:
            written.append(pages | "Markdown" >> WriteMarkdownFiles(self._output))
        return written


class WriteDeadLetters(beam.PTransform):
    """Write ``DeadLetter`` rows under ``<output>/errors/``.

    Example:
        >>> (read_errors, split_errors) | beam.Flatten() | WriteDeadLetters(out, cfg)
    """

    def __init__(self, output: str, config: SinkConfig, run_id: str = "manual"):
        super().__init__()
        self._output = output
        self._config = config
        self._run_id = run_id

    def expand(self, dead):
        dead = typed(dead, DeadLetter)
        return dead | "Table" >> _WriteTable(
            self._output, "errors", self._config, self._run_id, DeadLetter
        )


class WriteDocuments(beam.PTransform):
    """Write ``DocumentResult`` rows under ``<output>/documents/`` and one
    markdown file per document under ``documents/markdown/``.

    Example:
        >>> documents | WriteDocuments("gs://bucket/ocr-out", SinkConfig(), run_id)
    """

    def __init__(self, output: str, config: SinkConfig, run_id: str = "manual"):
        super().__init__()
        self._output = output
        self._config = config
        self._run_id = run_id

    def expand(self, documents):
        documents = typed(documents, DocumentResult)
        written = documents | "Table" >> _WriteTable(
            self._output, "documents", self._config, self._run_id, DocumentResult
        )
        written.append(documents | "Markdown" >> WriteMarkdownFiles(self._output))
        return written


# -- streaming: one Parquet file per window, pane and shard -----------------------
def _utc(ts) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(float(ts), datetime.timezone.utc).strftime(
        "%Y%m%dT%H%M%SZ"
    )


def window_file_name(window, pane_index: int, shard: int, shards: int) -> str:
    """``window-<start>-<end>-pane-PPP-shard-SSSSS-of-NNNNN.parquet``: a file
    says which window, pane and shard it holds; the same inputs always give
    the same name, so a retried bundle overwrites rather than duplicates."""
    return (
        f"window-{_utc(window.start)}-{_utc(window.end)}-pane-{pane_index:03d}"
        f"-shard-{shard:05d}-of-{shards:05d}.parquet"
    )


def _shard_of(row, shards: int) -> tuple:
    import zlib

    return zlib.crc32((row.doc_id or row.source_uri).encode()) % shards, row


class _WriteWindowFile(beam.DoFn):
    """Write one window's rows of one shard as a Parquet file, atomically.

    The file is written under a hidden temporary name (``.tmp-...``, which
    Parquet readers skip) and renamed when complete, so a drained or
    cancelled job never leaves a half-written file where readers look.
    """

    def __init__(self, folder: str, record_type, shards: int):
        self._folder = folder
        self._record_type = record_type
        self._shards = shards

    def process(
        self, element, window=beam.DoFn.WindowParam, pane=beam.DoFn.PaneInfoParam
    ) -> Iterable[str]:
        import secrets

        import fsspec
        import pyarrow as pa
        import pyarrow.parquet as pq

        shard, rows = element
        rows = [row._asdict() for row in rows]
        if not rows:
            return
        name = window_file_name(window, pane.index, shard, self._shards)
        final = join_uri(self._folder, name)
        temp = join_uri(self._folder, f".tmp-{secrets.token_hex(6)}-{name}")
        fs, _ = fsspec.core.url_to_fs(final)
        fs.makedirs(fs._strip_protocol(self._folder), exist_ok=True)
        table = pa.Table.from_pylist(rows, schema=arrow_schema(self._record_type))
        with fs.open(fs._strip_protocol(temp), "wb") as fh:
            pq.write_table(table, fh, compression="snappy")
        fs.mv(fs._strip_protocol(temp), fs._strip_protocol(final))
        yield final


class WriteWindowedTable(beam.PTransform):
    """Streaming sink: windowed rows -> ``<output>/<table>/window-...parquet``.

    Rows must already be windowed (``WindowInto``); each window's rows are
    grouped into ``shards`` files when the window closes.

    Example:
        >>> pages | beam.WindowInto(FixedWindows(60)) | WriteWindowedTable(
        ...     "gs://bucket/ocr-stream", "pages", PageResult)
    """

    def __init__(self, output: str, table: str, record_type, shards: int = 1):
        super().__init__()
        self._folder = join_uri(output, table)
        self._record_type = record_type
        self._shards = max(1, shards)

    def expand(self, rows):
        return (
            rows
            | "Shard" >> beam.Map(_shard_of, self._shards)
            | "PerWindow" >> beam.GroupByKey()
            | "Write"
            >> beam.ParDo(
                _WriteWindowFile(self._folder, self._record_type, self._shards)
            )
        )


class _WriteArtifact(beam.DoFn):
    def __init__(self, output: str):
        self._output = output

    def process(self, artifact: PageArtifact) -> Iterable[str]:
        import fsspec

        # Same page, same config: same path and bytes, so a rerun overwrites.
        path = join_uri(self._output, artifact.path)
        with fsspec.open(path, "wb", auto_mkdir=True) as fh:
            fh.write(artifact.data)
        yield path


class WriteArtifacts(beam.PTransform):
    """Write the files that come with pages (``PageArtifact``) under ``output``."""

    def __init__(self, output: str):
        super().__init__()
        self._output = output

    def expand(self, artifacts):
        return artifacts | "Write" >> beam.ParDo(_WriteArtifact(self._output))
