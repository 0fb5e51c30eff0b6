"""The whole batch pipeline on a real dask.distributed cluster (DaskRunner).

A scheduler and two single-threaded worker processes on loopback: started
by ``.ci/run`` (``OCRBEAM_TEST_DASK_ADDRESS``) or by the fixture here.
"""

import glob
import os
import sys

import pyarrow.parquet as pq
import pytest
from ocrbeam.pipelines.batch import run
from servers import dask_cluster

from docs import SENTENCES, encode, pdf_of_pages, text_image

pytestmark = [pytest.mark.dask, pytest.mark.model, pytest.mark.pipeline]

VOLATILE = {"elapsed_ms", "run_id"}


@pytest.fixture(scope="module")
def dask_address(tmp_path_factory):
    given = os.environ.get("OCRBEAM_TEST_DASK_ADDRESS")
    if given:
        yield given
        return
    with dask_cluster(tmp_path_factory.mktemp("dask")) as address:
        yield address


def _rows(output, table, key):
    files = sorted(glob.glob(os.path.join(output, table, "run-*.parquet")))
    rows = [r for f in files for r in pq.read_table(f).to_pylist()]
    rows = [{k: v for k, v in r.items() if k not in VOLATILE} for r in rows]
    return sorted(rows, key=key)


def _page_key(row):
    return (row["source_uri"].rsplit("/", 1)[-1], row["page_index"])


def _error_key(row):
    return (
        row["source_uri"],
        row["page_index"] if row["page_index"] is not None else -1,
    )


def _engine_processes() -> int:
    """Engine processes this (dask worker) process has running.  Defined in
    the test so that cloudpickle sends it by value to the workers."""
    import multiprocessing

    from ocrbeam.engines.ppocrv5 import ENGINE_PROCESS_NAME

    return sum(
        1 for p in multiprocessing.active_children() if p.name == ENGINE_PROCESS_NAME
    )


def test_dask_output_equals_local_output(dask_address, tmp_path):
    import cloudpickle
    from distributed import Client

    # _engine_processes travels by value: the workers cannot import tests/.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])

    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(4):
        pdf = pdf_of_pages([SENTENCES[i : i + 1], SENTENCES[i + 1 : i + 2]])
        (folder / f"doc{i}.pdf").write_bytes(pdf)
    (folder / "scan.png").write_bytes(encode(text_image(SENTENCES[6:8])))
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7 truncated")
    settings = ["--set", "render.dpi=100", "--set", "ocr.batchSize=1", "--no_progress"]

    local = run(
        [
            "--input",
            str(folder),
            "--output",
            str(tmp_path / "local"),
            "--workers",
            "1",
            *settings,
        ]
    )
    # One client at a time in this process: the runner makes its own.
    with Client(dask_address) as client:
        before = client.run(_engine_processes)
    # One --input per file: six root tasks for dask to place.
    inputs = [
        arg for path in sorted(folder.iterdir()) for arg in ("--input", str(path))
    ]
    dask = run(
        [
            *inputs,
            "--output",
            str(tmp_path / "dask"),
            "--runner",
            "DaskRunner",
            "--dask_client_address",
            dask_address,
            *settings,
        ]
    )
    with Client(dask_address) as client:
        after = client.run(_engine_processes)

    assert local.summary.ok and dask.summary.ok
    assert dask.summary.pages_done == local.summary.pages_done == 9
    assert dask.summary.errors_by_type == {"corrupt_pdf": 1}
    for table, key in (
        ("pages", _page_key),
        ("errors", _error_key),
        ("documents", lambda r: r["source_uri"]),
    ):
        assert _rows(tmp_path / "dask", table, key) == _rows(
            tmp_path / "local", table, key
        )
    with open(
        os.path.join(
            tmp_path / "dask",
            "documents",
            "markdown",
            sorted(os.listdir(tmp_path / "dask/documents/markdown"))[0],
        )
    ) as fh:
        assert SENTENCES[0] in fh.read()

    # Every page was OCR'd in the cluster's worker processes, each worker
    # that OCR'd holding one engine process (the runner keeps a worker's DoFns
    # set up) that loaded the model once: as many loads as new engines, and
    # no worker with two.  Which workers do the work is the dask scheduler's
    # choice (data locality, then work stealing): in CI it has put all nine
    # pages on one worker.  Beam metrics come back from the workers.
    from apache_beam.metrics.metric import MetricsFilter

    def counter(name):
        found = dask.result.metrics().query(
            MetricsFilter().with_namespace("ocrbeam.ppocrv5").with_name(name)
        )["counters"]
        return sum(c.committed for c in found)

    engines = {w: after[w] - before[w] for w in after}
    assert counter("pages") == 9
    assert all(n in (0, 1) for n in engines.values()), engines
    assert counter("model_loads") == sum(engines.values()) >= 1, engines


def test_dask_options_are_not_reported_unparseable(dask_address, tmp_path):
    """``--dask_client_address`` is Beam's own option: ``ocrbeam run`` must
    not call it unparseable (a fresh process, where nothing registered it)."""
    import subprocess
    import sys

    from docs import blank_pdf

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "blank.pdf").write_bytes(blank_pdf(200, 200))
    proc = subprocess.run(
        [sys.executable, "-m", "ocrbeam", "run", "--no_progress",
         "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"),
         "--runner", "DaskRunner", "--dask_client_address", dask_address],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Discarding unparseable args" not in proc.stderr
    assert "documents done" in proc.stderr
