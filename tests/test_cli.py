"""The ``ocrbeam`` command as a user runs it."""

import shutil
import subprocess
import sys

import pyarrow.dataset as ds
import pytest
from ocrbeam.transforms.records import DeadLetter, PageResult

from ocrbeam.cli import main


def _ocrbeam():
    exe = shutil.which("ocrbeam")
    return [exe] if exe else [sys.executable, "-m", "ocrbeam"]


@pytest.mark.model
@pytest.mark.pipeline
def test_run_command_end_to_end(mixed_folder, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        _ocrbeam()
        + [
            "run",
            "--input",
            str(mixed_folder),
            "--output",
            str(out),
            "--set",
            "render.dpi=100",
            "--set",
            "sink.jsonl=true",
            "--set",
            "sink.markdownFiles=true",
            "--workers",
            "2",
            "--log_level",
            "INFO",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    # Started before Beam was imported, then adopted: both engines, the renderer.
    assert proc.stderr.count("ocrbeam-engine: adopted prestarted process") == 2
    assert proc.stderr.count("ocrbeam-renderer: adopted prestarted process") == 1
    assert "progress:" in proc.stderr and "summary:" in proc.stderr
    # The default local run: one pool of two engines, each loaded once.
    assert "this run: 2 model load(s)" in proc.stderr
    assert (out / "_SUMMARY.json").is_file()
    pages = ds.dataset(str(out / "pages"), format="parquet").to_table()
    errors = ds.dataset(str(out / "errors"), format="parquet").to_table()
    # The Parquet schema is the record type's, column for column.
    assert pages.schema.names == list(PageResult._fields)
    assert errors.schema.names == list(DeadLetter._fields)
    rows = sorted(
        (r["source_uri"].rsplit("/", 1)[1], r["page_index"], r["page_count"])
        for r in pages.to_pylist()
    )
    assert rows == [
        ("scan.png", 0, 1),
        ("two-pages.pdf", 0, 2),
        ("two-pages.pdf", 1, 2),
    ]
    assert all(len(r["doc_id"]) == 64 for r in pages.to_pylist())
    kinds = sorted(r["error_type"] for r in errors.to_pylist())
    assert kinds == ["encrypted_pdf", "unsupported_format"]
    assert list((out / "jsonl" / "pages").glob("*.jsonl"))
    assert len(list((out / "markdown").glob("*/page-*.md"))) == 3


def test_help_documents_the_options(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for flag in (
        "--input",
        "--output",
        "--config",
        "--set",
        "--workers",
        "--runner",
        "textDetThresh",
        "errors/",
    ):
        assert flag in text, flag


@pytest.mark.parametrize(
    "args, message",
    [
        (["--output", "OUT"], "--input is required"),
        (["--input", "IN"], "--output is required"),
        (["--input", "MISSING", "--output", "OUT"], "matches no file"),
        (
            ["--input", "IN", "--output", "OUT", "--set", "ocr.textDetTresh=1"],
            "ocr.textDetTresh: unknown key",
        ),
        (
            ["--input", "IN", "--output", "OUT", "--config", "nope.yaml"],
            "config file not found",
        ),
    ],
)
def test_user_mistakes_give_one_message_and_exit_2(tmp_path, capsys, args, message):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.png").write_bytes(b"x")
    subst = {
        "IN": str(tmp_path / "in"),
        "OUT": str(tmp_path / "out"),
        "MISSING": str(tmp_path / "missing"),
        "nope.yaml": str(tmp_path / "n.yaml"),
    }
    code = main(["run"] + [subst.get(a, a) for a in args])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Traceback" not in err


def test_unwritable_output(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.png").write_bytes(b"x")
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    code = main(
        ["run", "--input", str(tmp_path / "in"), "--output", str(blocker / "out")]
    )
    assert code == 2
    assert "not writable" in capsys.readouterr().err


def test_version(capsys):
    from ocrbeam import __version__

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"ocrbeam {__version__}"


@pytest.mark.model
@pytest.mark.pipeline
def test_pages_without_ocr_flow_through_the_whole_run(tmp_path):
    """The default route (auto): a born-digital PDF from its text layer with
    its structure, a blank page without the models, raster pages through
    OCR (one with no words); all rows, documents and accounting, and where
    each page's words came from."""
    import json

    from docs import DATA, SENTENCES, blank_pdf, encode, text_image

    lake = tmp_path / "lake"
    lake.mkdir()
    (lake / "born-digital.pdf").write_bytes(
        (DATA / "pdflatex-4-pages.pdf").read_bytes()
    )
    (lake / "blank.pdf").write_bytes(blank_pdf(300, 400))
    (lake / "scan.png").write_bytes(encode(text_image(SENTENCES[:2])))
    (lake / "smile.tiff").write_bytes((DATA / "smile.tiff").read_bytes())  # no words
    out = tmp_path / "out"
    code = main(["run", "--input", str(lake), "--output", str(out), "--no_progress"])
    assert code == 0
    pages = ds.dataset(str(out / "pages"), format="parquet").to_table().to_pylist()
    routes = sorted(
        (r["source_uri"].rsplit("/", 1)[1], r["page_index"], r["route"],
         r["text_source"], r["text_source_reason"])
        for r in pages
    )  # fmt: skip
    layer = ("structure", "text_layer", "text layer passed its checks")
    assert routes == [
        ("blank.pdf", 0, "blank", None, None),
        *[("born-digital.pdf", index, *layer) for index in range(4)],
        ("scan.png", 0, "structure", "ocr", "not a PDF: no text layer"),
        ("smile.tiff", 0, "structure", "ocr", "not a PDF: no text layer"),
    ]
    summary = json.loads((out / "_SUMMARY.json").read_text())
    assert summary["ok"] and summary["documents_done"] == 4
    docs = list((out / "documents" / "markdown").glob("born-digital-*.md"))
    assert len(docs) == 1 and "Hello, here is some text" in docs[0].read_text()


@pytest.mark.parametrize(
    "extra, engines, renderers",
    [
        ([], 1, 1),  # --workers 1: one engine, the renderer
        (["--set", "ocr.isolate=false"], 0, 1),  # engines in-process
        (["--runner", "DirectRunner"], 0, 0),  # not the default local run
        (["--direct_running_mode=multi_processing"], 0, 0),
        (["--set", "ocr.sharedEngines=false"], 0, 0),  # no pool
        (["--set", "ocr.backend=remote"], 0, 0),
        (["--set", "no.such=1"], 0, 0),  # the run reports the error
        (["--help"], 0, 0),
    ],
)
def test_run_prestarts_the_pool_processes_before_importing_beam(
    tmp_path, extra, engines, renderers
):
    """``ocrbeam run`` starts the engine pool's and the renderer's processes
    first (they import PaddleOCR and pdfium while it imports Beam), only
    where the run will have a local pool to adopt them."""
    from ocrbeam.engines.isolation import standing_by, stop_standing_by
    from ocrbeam.engines.ppocrv5 import ENGINE_PROCESS_NAME
    from ocrbeam.engines.render import RENDERER_PROCESS_NAME
    from ocrbeam.local.prestart import prestart_for

    argv = ["--input", str(tmp_path), "--output", str(tmp_path / "o"), "--workers"]
    try:
        assert prestart_for(argv + ["1"] + extra) == engines + renderers
        assert len(standing_by(ENGINE_PROCESS_NAME)) == engines
        assert len(standing_by(RENDERER_PROCESS_NAME)) == renderers
    finally:
        assert stop_standing_by() == engines + renderers


@pytest.mark.model
@pytest.mark.pipeline
def test_a_run_whose_accounting_fails_exits_1(tmp_path, capsys):
    """A page in pages/ twice (a file copied in by hand) fails the accounting:
    exit status 1, one line saying what, and the summary says ok: false."""
    import json
    import shutil

    from docs import SENTENCES, encode, text_image

    lake = tmp_path / "in"
    lake.mkdir()
    (lake / "scan.png").write_bytes(encode(text_image(SENTENCES[:1])))
    out = tmp_path / "out"
    argv = ["run", "--input", str(lake), "--output", str(out), "--no_progress"]
    assert main(argv) == 0
    [written] = list((out / "pages").glob("run-*.parquet"))
    shutil.copy(
        written, out / "pages" / "run-20990101T000000Z-abcdef-00000-of-00001.parquet"
    )
    capsys.readouterr()
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "accounting failed" in err and "1 page(s) twice" in err
    assert "Traceback" not in err
    summary = json.loads((out / "_SUMMARY.json").read_text())
    assert summary["ok"] is False and summary["duplicate_pages"] == 1
