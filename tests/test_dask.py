"""The whole batch pipeline on a real dask.distributed cluster (DaskRunner).

A scheduler and two single-threaded worker processes on loopback: started
by ``.ci/run`` (``OCRBEAM_TEST_DASK_ADDRESS``) or by the fixture here.
"""

import glob
import os

import pyarrow.parquet as pq
import pytest
from docs import SENTENCES, encode, pdf_of_pages, text_image
from ocrbeam.pipelines.batch import run
from ocrbeam.transforms.handlers import process_stats
from servers import dask_cluster

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


def test_dask_output_equals_local_output(dask_address, tmp_path):
    from distributed import Client

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
        before = client.run(process_stats)
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
        after = client.run(process_stats)

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

    # Every page was OCR'd in the cluster's worker processes (none in this
    # one), each worker that OCR'd loading the model once.  Which workers do
    # the work is the dask scheduler's choice (data locality, then work
    # stealing): in CI it has put all nine pages on one worker.
    pages = {w: after[w]["pages"] - before[w]["pages"] for w in after}
    loads = {w: after[w]["model_loads"] - before[w]["model_loads"] for w in after}
    assert sum(pages.values()) == 9, pages
    assert all(loads[w] == 1 for w in pages if pages[w] > 0), loads
    # Beam metrics come back from the workers as on the other runners.
    from apache_beam.metrics.metric import MetricsFilter

    found = dask.result.metrics().query(
        MetricsFilter().with_namespace("ocrbeam.ppocrv5").with_name("pages")
    )["counters"]
    assert sum(c.committed for c in found) == 9
