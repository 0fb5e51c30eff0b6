import io
import json

from ocrbeam.local.progress import (
    ProgressMonitor,
    ProgressReporter,
    format_progress,
    read_progress,
)


def test_reporter_writes_per_process_counts_and_reader_sums(tmp_path):
    split = ProgressReporter(str(tmp_path), "split")
    ocr = ProgressReporter(str(tmp_path), "ocr")
    split.add(documents=1, pages_found=3)
    ocr.add(pages_done=2)
    ocr.add(pages_failed=1)
    split.flush()
    ocr.flush()
    (tmp_path / "99999-ocr.json").write_text(json.dumps({"pages_done": 5}))
    (tmp_path / "broken.json").write_text("{")
    totals = read_progress(str(tmp_path))
    assert totals["pages_found"] == 3
    assert totals["pages_done"] == 7 and totals["pages_failed"] == 1


def test_reporter_without_directory_is_a_no_op(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    reporter = ProgressReporter(None, "x")
    reporter.add(pages_done=1)
    reporter.flush()
    assert list(tmp_path.iterdir()) == []  # nothing written anywhere
    assert ProgressReporter._state.get((None, "x")) is None  # nothing counted


def test_format_progress_shows_rate_and_time_left():
    line = format_progress(
        {"documents": 2, "pages_found": 120, "pages_done": 30, "pages_failed": 4},
        elapsed_s=65,
        rate=0.5,
    )
    assert line == (
        "progress: documents 2 | pages 34/120 done (4 failed) | 0.50 pages/s"
        " | ~2m52s left | elapsed 1m05s"
    )


def test_monitor_prints_a_final_line(tmp_path):
    stream = io.StringIO()
    ProgressReporter(str(tmp_path), "ocr").add(pages_done=1)
    ProgressReporter(str(tmp_path), "ocr").flush()
    monitor = ProgressMonitor(str(tmp_path), interval=0.05, stream=stream).start()
    monitor.stop()
    assert (
        stream.getvalue()
        .splitlines()[-1]
        .startswith("progress: documents 0 | pages 1/0 done")
    )
