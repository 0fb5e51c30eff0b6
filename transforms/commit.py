"""CommitRows: a local run's rows, durable as they are made.

Beam's file sinks write every row of a run when the run ends: a run killed
at 90% has written nothing.  A local run (``ocrbeam run`` without a remote
runner) reads, renders, OCRs and commits in one fused stage instead: each
stage's rows are written where they are made, at most ``sink.commitIntervalS``
seconds after they are made (0: as each comes), one file per table each
time::

    pages/run-<run id>-<digest>.parquet
    errors/run-<run id>-<digest>.parquet
    jsonl/{pages,errors}/run-<run id>-<digest>.jsonl    with sink.jsonl

``<digest>`` names the rows in the file (their document and page), so writing
the same rows again (a retried bundle) replaces the file instead of doubling
them.  A local file is written under a hidden temporary name and renamed; an
object store makes an object visible only once its upload completes.  A run
killed at any moment loses at most the rows not yet committed; the rerun skips
every page already in ``pages/`` and retries the rest.

Transient storage errors are retried: the storage clients retry each request
themselves (gcsfs 6 times over about 20 s, s3fs and botocore 5 times), and a
commit that still fails is tried once more a second later (:func:`retrying`),
which rides out an outage up to about a minute on GCS; when the store stays
away the run fails with :class:`StorageUnavailable`, keeping what it
committed.

Remote runners (Dataflow, Flink, dask) keep Beam's sinks and the runner's own
checkpointing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from ocrbeam.output.paths import join_uri

from .config import SinkConfig
from .records import DeadLetter, PageResult

_LOG = logging.getLogger(__name__)

#: Storage errors that mean "this is wrong", not "try again".
_PERMANENT = (
    PermissionError,
    FileNotFoundError,
    IsADirectoryError,
    NotADirectoryError,
    ValueError,
    TypeError,
)
#: What each table holds.
_RECORDS = {"pages": PageResult, "errors": DeadLetter}


class StorageUnavailable(OSError):
    """The output store failed past the retries; the message says where."""


def retrying(action: Callable[[], Any], what: str, attempts: int = 2) -> Any:
    """Run ``action``, retrying transient failures (connection errors,
    timeouts, 429/5xx answers: anything but a permission, a missing path or a
    bad value) after 1 s, then 2 s...  On top of the storage client's own
    retries: this rides out an outage longer than theirs.

    Raises:
        StorageUnavailable: still failing after ``attempts`` tries.
    """
    delay = 1.0
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except _PERMANENT:
            raise
        except Exception as exc:  # noqa: BLE001 - classified: retried or raised
            if attempt == attempts:
                raise StorageUnavailable(
                    f"{what} failed {attempts} times; last: {type(exc).__name__}: {exc}"
                ) from exc
            _LOG.warning("%s failed (%s); retrying in %.1f s", what, exc, delay)
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


class _CommitDoFn(beam.DoFn):
    def __init__(self, output: str, table: str, config: SinkConfig, run_id: str):
        self._output = output
        self._table = table
        self._config = config
        self._run_id = run_id
        self._rows: list = []
        self._last_commit = 0.0
        self._files = Metrics.counter("ocrbeam.commit", "files")
        self._committed = Metrics.counter("ocrbeam.commit", f"{table}_rows")

    def start_bundle(self):
        self._rows = []
        self._last_commit = time.monotonic()

    def process(self, row) -> Iterable[str]:
        self._rows.append(row)
        if time.monotonic() - self._last_commit >= self._config.commit_interval_s:
            yield from self._commit()

    def finish_bundle(self):
        for path in self._commit():
            yield beam.transforms.window.GlobalWindows.windowed_value(path)

    def _commit(self) -> list[str]:
        rows, self._rows = self._rows, []
        self._last_commit = time.monotonic()
        if not rows:
            return []
        keys = sorted(f"{r.source_uri}\0{r.doc_id}\0{r.page_index}" for r in rows)
        digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]
        name = f"run-{self._run_id}-{digest}"
        written = []
        if self._config.parquet:
            path = join_uri(self._output, self._table, f"{name}.parquet")
            written.append(_write(path, _parquet(rows, _RECORDS[self._table])))
        if self._config.jsonl:
            path = join_uri(self._output, "jsonl", self._table, f"{name}.jsonl")
            written.append(_write(path, _jsonl(rows)))
        self._files.inc(len(written))
        self._committed.inc(len(rows))
        return written


def _parquet(rows: list, record_type) -> bytes:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    from .sinks import arrow_schema

    table = pa.Table.from_pylist(
        [row._asdict() for row in rows], schema=arrow_schema(record_type)
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="snappy")
    return buffer.getvalue()


def _jsonl(rows: list) -> bytes:
    lines = (json.dumps(row._asdict(), ensure_ascii=False) for row in rows)
    return ("\n".join(lines) + "\n").encode("utf-8")


def _write(path: str, data: bytes) -> str:
    """Write ``data`` to ``path`` so that readers see all of it or nothing."""
    import fsspec

    fs, fs_path = fsspec.core.url_to_fs(path)
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    folder, name = fs_path.rsplit("/", 1)

    def write():
        fs.makedirs(folder, exist_ok=True)
        if "file" not in protocols:  # an object appears once its upload completes
            fs.pipe_file(fs_path, data)
            return
        staged = f"{folder}/.tmp-{secrets.token_hex(6)}-{name}"
        fs.pipe_file(staged, data)
        fs.mv(staged, fs_path)

    retrying(write, f"writing {path}")
    return path


class CommitRows(beam.PTransform):
    """Write ``PageResult`` (``table="pages"``) or ``DeadLetter``
    (``table="errors"``) rows as they come, in the stage that makes them
    (apply it to a stage's own output, not to a Flatten: see the module doc).

    Example:
        >>> ocr_pages | CommitRows("gs://bucket/ocr-out", "pages", sink, run_id)
    """

    def __init__(self, output: str, table: str, config: SinkConfig, run_id: str):
        super().__init__()
        if table not in _RECORDS:
            raise ValueError(f"table must be one of {sorted(_RECORDS)}, not {table!r}")
        self._output = output
        self._table = table
        self._config = config
        self._run_id = run_id

    def expand(self, rows):
        return rows | "Commit" >> beam.ParDo(
            _CommitDoFn(self._output, self._table, self._config, self._run_id)
        )
