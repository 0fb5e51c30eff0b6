"""Runs that fail or meet, as a user's would: a real ``ocrbeam run`` killed
with SIGKILL, two runs into one output, the output store going away."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from docs import SENTENCES, pdf_of_pages

pytestmark = [pytest.mark.model, pytest.mark.pipeline]


def _ocrbeam(*args: str) -> list[str]:
    return [sys.executable, "-m", "ocrbeam", "run", "--no_progress", *args]


def _documents(
    folder: Path, count: int, pages: int = 2, name: str = "doc", lines: int = 2
) -> int:
    """``count`` PDFs of ``pages`` text pages each; returns the page total."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        text = [(SENTENCES * 2)[(i + p) % 8 :][:lines] for p in range(pages)]
        (folder / f"{name}{i}.pdf").write_bytes(pdf_of_pages(text))
    return count * pages


def _page_rows(pages: Path) -> list[tuple[str, int]]:
    rows = []
    for path in sorted(pages.glob("run-*.parquet")):
        table = pq.read_table(path, columns=["source_uri", "page_index"])
        rows += [(r["source_uri"], r["page_index"]) for r in table.to_pylist()]
    return rows


def _wait_for(predicate, process: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert process.poll() is None, "the run ended before the moment came"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_killed_run_keeps_what_it_committed_and_the_rerun_doubles_nothing(
    tmp_path,
):
    total = _documents(tmp_path / "in", 6)
    out = tmp_path / "out"
    command = _ocrbeam(
        "--input", str(tmp_path / "in"), "--output", str(out), "--workers", "1",
        "--set", "render.dpi=100", "--set", "sink.commitIntervalS=0",
    )  # fmt: skip
    run = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: len(list((out / "pages").glob("run-*.parquet"))) >= 2, run)
    run.send_signal(signal.SIGKILL)
    run.communicate()
    kept = {p: p.read_bytes() for p in (out / "pages").glob("run-*.parquet")}
    before = _page_rows(out / "pages")
    assert 0 < len(before) < total, "killed mid-run, with pages committed"
    assert (out / "_LEASE.json").exists()  # left by the killed run
    # What a run killed while writing leaves: a local commit's temporary file,
    # Beam's temporary folder.
    (out / "pages" / ".tmp-1a2b3c-run-x.parquet").write_bytes(b"half a file")
    (out / "documents" / "beam-temp-run-x-1").mkdir(parents=True)
    (out / "documents" / "beam-temp-run-x-1" / "part").write_bytes(b"part")

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "taking over the lease of dead" in rerun.stderr
    after = _page_rows(out / "pages")
    assert len(after) == len(set(after)) == total  # every page, none twice
    assert set(before) <= set(after)
    for path, data in kept.items():  # what was committed is as it was
        assert path.read_bytes() == data
    assert not (out / "pages" / ".tmp-1a2b3c-run-x.parquet").exists()
    assert not (out / "documents" / "beam-temp-run-x-1").exists()
    assert not (out / "_LEASE.json").exists()
    summary = json.loads((out / "_SUMMARY.json").read_text())
    assert summary["ok"] and summary["pages_done"] == total
    assert summary["duplicate_pages"] == 0


def test_a_second_run_into_a_held_output_is_refused_and_nothing_is_lost(tmp_path):
    _documents(tmp_path / "a", 8, pages=4, name="a", lines=8)  # some 30 s
    _documents(tmp_path / "b", 2, name="b")
    out = tmp_path / "out"

    def command(folder):
        return _ocrbeam("--input", str(tmp_path / folder), "--output", str(out),
                        "--workers", "1",
                        "--set", "sink.commitIntervalS=0")  # fmt: skip

    first = subprocess.Popen(command("a"), stderr=subprocess.PIPE, text=True)
    # The first run is OCR-ing (it has committed a page) when the second starts.
    _wait_for(lambda: list((out / "pages").glob("run-*.parquet")), first)
    second = subprocess.run(command("b"), capture_output=True, text=True, timeout=300)
    assert first.poll() is None, "the first run must still hold the output"
    assert second.returncode == 2
    [line] = second.stderr.strip().splitlines()
    assert line.startswith("ocrbeam: error: ") and "is in use by run" in line
    _, err = first.communicate(timeout=600)
    assert first.returncode == 0, err[-3000:]
    # Once the first is done, the second runs; each one's work stays.
    again = subprocess.run(command("b"), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    names = {Path(uri).name for uri, _page in _page_rows(out / "pages")}
    assert names == {f"a{i}.pdf" for i in range(8)} | {"b0.pdf", "b1.pdf"}
    documents = [
        r["source_uri"]
        for path in (out / "documents").glob("run-*.parquet")
        for r in pq.read_table(path, columns=["source_uri"]).to_pylist()
    ]
    assert sorted(Path(uri).name for uri in documents) == sorted(names)


@pytest.mark.gcs
def test_the_output_store_going_away_ends_the_run_in_one_line_and_the_rerun_completes(
    tmp_path, monkeypatch
):
    """GCS (the emulator, storing on disk) stops in the middle of a run: the
    run ends with exit status 1 and one line, keeping what it committed; once
    the store is back, the same command completes with nothing lost or twice."""
    import fsspec
    from servers import GcsEmulator

    total = _documents(tmp_path / "in", 6)
    emulator = GcsEmulator(tmp_path / "gcs", "lake")
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator.url)
    emulator.start()
    command = _ocrbeam(
        "--input", str(tmp_path / "in"), "--output", "gs://lake/out",
        "--workers", "1", "--set", "render.dpi=100", "--set", "sink.commitIntervalS=0",
    )  # fmt: skip
    committed = tmp_path / "gcs" / "objects" / "lake" / "out" / "pages"

    def rows():
        fs = fsspec.filesystem("gs", skip_instance_cache=True)
        return [
            (r["source_uri"], r["page_index"])
            for path in fs.glob("lake/out/pages/run-*.parquet")
            for r in pq.read_table(path, filesystem=fs).to_pylist()
        ]

    try:
        run = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
        _wait_for(lambda: committed.exists() and len(os.listdir(committed)) >= 2, run)
        emulator.stop()
        _, err = run.communicate(timeout=600)
        assert run.returncode == 1, err[-3000:]
        assert "Traceback" not in err
        last = err.strip().splitlines()[-1]
        assert last.startswith("ocrbeam: error: the output store failed:")
        assert "rerun" in last

        emulator.start()
        before = rows()
        assert 0 < len(before) < total
        rerun = subprocess.run(command, capture_output=True, text=True, timeout=600)
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        assert "Task was destroyed but it is pending" not in rerun.stderr
        after = rows()
        assert len(after) == len(set(after)) == total
        assert set(before) <= set(after)
    finally:
        emulator.stop()
