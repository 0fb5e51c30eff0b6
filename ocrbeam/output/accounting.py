"""Accounting and idempotent reruns: what an output prefix already holds.

Every run writes its files with a run id in their names: Beam's sinks as
``pages/run-<id>-00000-of-00002.parquet``, a local run's commits as
``pages/run-<id>-<digest>.parquet``.  Around a run, the launcher (holding the
output's lease, :mod:`.lease`):

* before: removes what dead runs left half-written (temporary files, Beam's
  ``beam-temp-*`` folders), refuses an output written with another config
  (unless ``--force``) and hands the pages already there to the pipeline,
  which skips them;
* after: removes the errors/ files of earlier runs (every document that failed
  then was retried now, so this run's rows are the current word), removes this
  run's empty files, and with ``--force`` the earlier runs' pages too;
* then: reads pages/ and errors/ back and writes ``_SUMMARY.json``, checking
  the invariant that every input document is in pages/ or errors/ and every
  page of every readable document is in exactly one of them.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from .paths import join_uri

TABLES = ("pages", "errors", "documents")
_RUN_FILE = re.compile(
    r"run-(?P<run>[0-9TZ]+-[0-9a-f]+)-(\d{5}-of-\d{5}|[0-9a-f]{16})"
    r"\.(parquet|jsonl)$"
)
#: What a run writes before its files are complete: a local commit's hidden
#: temporary file, Beam's file sinks' temporary folders.
_TEMPORARY = re.compile(r"^(\.tmp-|beam-temp-)")
#: Folders that hold a run's tables.
_FOLDERS = ("pages", "errors", "documents", "jsonl/pages", "jsonl/errors")


def new_run_id() -> str:
    """Sortable and unique: ``20261121T161000Z-1a2b3c``."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)


def _fs(url: str):
    import fsspec

    return fsspec.core.url_to_fs(url)


def run_files(output: str, table: str, suffix: str = "parquet") -> dict[str, str]:
    """``{path: run_id}`` of a table's finished files (temp folders ignored)."""
    folder = (
        join_uri(output, table)
        if suffix == "parquet"
        else join_uri(output, "jsonl", table)
    )
    fs, path = _fs(folder)
    # Object-store filesystems (gcsfs, s3fs) cache listings per process; the
    # pipeline has written files since the last look.
    fs.invalidate_cache(path)
    if not fs.exists(path):
        return {}
    found = {}
    for entry in fs.ls(path, detail=False):
        match = _RUN_FILE.search(entry.rsplit("/", 1)[-1])
        if match and entry.endswith(suffix):
            found[entry] = match.group("run")
    return found


def _parquet(fs, path: str):
    """A Parquet file's reader, from the object's bytes in one request (no
    file object: object-store files would start a read-ahead for nothing)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    return pq.ParquetFile(pa.BufferReader(fs.cat_file(path)))


def read_table(output: str, table: str, columns: list[str]) -> list[dict[str, Any]]:
    """Rows of pages/ or errors/ (only the given columns), from every run."""
    fs, _ = _fs(output)
    rows: list[dict[str, Any]] = []
    for path in sorted(run_files(output, table)):
        rows.extend(_parquet(fs, path).read(columns=columns).to_pylist())
    return rows


def remove_temporaries(output: str) -> list[str]:
    """Delete what runs that died left half-written: hidden temporary files
    and Beam's ``beam-temp-*`` folders.  Call it holding the output's lease
    (no other run is writing).  Returns what was deleted."""
    fs, _ = _fs(output)
    removed = []
    for folder in _FOLDERS:
        _, path = _fs(join_uri(output, folder))
        fs.invalidate_cache(path)
        if not fs.exists(path):
            continue
        for entry in fs.ls(path, detail=False):
            if _TEMPORARY.match(entry.rstrip("/").rsplit("/", 1)[-1]):
                fs.rm(entry, recursive=True)
                removed.append(entry)
    return removed


def check_writable(output: str) -> None:
    """Write and remove a probe file under ``output``.

    Raises:
        UsageError: the output cannot be written (one line for the user).
    """
    from ocrbeam.errors import UsageError

    probe = output.rstrip("/") + "/.ocrbeam-write-check"
    try:
        fs, path = _fs(probe)
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        with fs.open(path, "wb") as fh:
            fh.write(b"ok")
        fs.rm(path)
    except Exception as exc:  # noqa: BLE001 - reported to the user as one line
        raise UsageError(f"output {output} is not writable: {exc}") from None


def existing_config_hashes(output: str) -> set[str]:
    """Config fingerprints of the page rows already under ``output``."""
    return {r["config_hash"] for r in read_table(output, "pages", ["config_hash"])}


def cleanup_after_run(output: str, run_id: str, force: bool) -> list[str]:
    """Delete superseded files (see module doc); returns what was deleted."""
    fs, _ = _fs(output)
    doomed = []
    for table in TABLES:
        for suffix in ("parquet", "jsonl"):
            for path, run in run_files(output, table, suffix).items():
                # errors/ and documents/ are rewritten whole by every run.
                if run != run_id and (table != "pages" or force):
                    doomed.append(path)
                elif run == run_id and suffix == "parquet":
                    if _parquet(fs, path).metadata.num_rows == 0:
                        doomed.append(path)
                elif run == run_id and fs.size(path) == 0:
                    doomed.append(path)
    for path in doomed:
        fs.rm(path)
    return doomed


@dataclass
class Summary:
    """What ``_SUMMARY.json`` holds; ``ok`` is the accounting invariant."""

    run_id: str
    config_hash: str
    documents_in: int = 0
    documents_done: int = 0
    documents_partial: int = 0
    documents_failed: int = 0
    documents_unaccounted: int = 0
    pages_done: int = 0
    pages_failed: int = 0
    duplicate_pages: int = 0
    errors_by_type: dict[str, int] = field(default_factory=dict)
    unaccounted: list[str] = field(default_factory=list)
    pages_unaccounted: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.unaccounted or self.pages_unaccounted or self.duplicate_pages)

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "ok": self.ok}, indent=2, sort_keys=True)

    def table(self) -> str:
        rows = [
            ("documents in", self.documents_in),
            ("documents done", self.documents_done),
            ("documents partly done", self.documents_partial),
            ("documents failed", self.documents_failed),
            ("documents unaccounted", self.documents_unaccounted),
            ("pages done", self.pages_done),
            ("pages failed", self.pages_failed),
        ]
        rows += [(f"  error: {k}", v) for k, v in sorted(self.errors_by_type.items())]
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"  {name:<{width}}  {value}" for name, value in rows)


def summarize(
    output: str, input_uris: list[str], config_hash: str, run_id: str
) -> Summary:
    """Account for every input document and page from what is under ``output``."""
    pages = read_table(
        output,
        "pages",
        ["source_uri", "doc_id", "page_index", "page_count", "config_hash"],
    )
    errors = read_table(
        output, "errors", ["source_uri", "page_index", "page_count", "error_type"]
    )
    summary = Summary(run_id=run_id, config_hash=config_hash)
    page_hits: dict[str, Counter] = defaultdict(Counter)
    counts: dict[str, int] = {}
    for row in pages:
        if row["config_hash"] != config_hash:
            continue
        page_hits[row["source_uri"]][row["page_index"]] += 1
        counts[row["source_uri"]] = row["page_count"]
    doc_errors: dict[str, list[dict]] = defaultdict(list)
    for row in errors:
        doc_errors[row["source_uri"]].append(row)
        summary.errors_by_type[row["error_type"]] = (
            summary.errors_by_type.get(row["error_type"], 0) + 1
        )
        if row["page_index"] is not None:
            summary.pages_failed += 1
            if row["page_count"] is not None:
                counts.setdefault(row["source_uri"], row["page_count"])
    for uri in sorted(set(input_uris)):
        summary.documents_in += 1
        hits = page_hits.get(uri, Counter())
        errs = doc_errors.get(uri, [])
        summary.pages_done += len(hits)
        summary.duplicate_pages += sum(n - 1 for n in hits.values() if n > 1)
        if not hits and not errs:
            summary.documents_unaccounted += 1
            summary.unaccounted.append(uri)
            continue
        whole_doc_failed = any(e["page_index"] is None for e in errs)
        count: Optional[int] = counts.get(uri)
        if count is not None and not whole_doc_failed:
            failed_pages = Counter(e["page_index"] for e in errs)
            for index in range(count):
                if hits[index] + failed_pages[index] != 1:
                    summary.pages_unaccounted.append(f"{uri}#page={index}")
        if hits and count is not None and len(hits) == count:
            summary.documents_done += 1
        elif hits:
            summary.documents_partial += 1
        else:
            summary.documents_failed += 1
    summary.unaccounted = summary.unaccounted[:100]
    summary.pages_unaccounted = summary.pages_unaccounted[:100]
    return summary


def write_summary(output: str, summary: Summary) -> str:
    path = join_uri(output, "_SUMMARY.json")
    fs, fs_path = _fs(path)
    with fs.open(fs_path, "w") as fh:
        fh.write(summary.to_json())
    return path
