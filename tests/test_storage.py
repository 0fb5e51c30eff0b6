"""gs:// and s3:// inputs and outputs, against real servers on loopback.

GCS: gcp-storage-emulator (``STORAGE_EMULATOR_HOST``, honoured by gcsfs and
by Beam's gcsio).  S3: moto's server (``AWS_ENDPOINT_URL`` plus dummy keys,
honoured by s3fs and by Beam's boto3 client).  The product code is the same
as for local paths; only these standard settings point it at the servers.
"""

import json

import fsspec
import pyarrow.parquet as pq
import pytest
from ocrbeam.pipelines.batch import run
from servers import gcs_emulator, s3_server

from docs import DATA, SENTENCES, encode, pdf_of_pages, text_image

pytestmark = [pytest.mark.model, pytest.mark.pipeline]


def _upload(fs, root: str) -> None:
    fs.pipe(f"{root}/in/two-pages.pdf", pdf_of_pages([SENTENCES[0:2], SENTENCES[2:4]]))
    fs.pipe(f"{root}/in/scan.png", encode(text_image(SENTENCES[4:6])))
    fs.pipe(
        f"{root}/in/locked.pdf", (DATA / "libreoffice-writer-password.pdf").read_bytes()
    )


def _run_and_check(fs, root: str) -> None:
    argv = [
        "--input",
        f"{root}/in",
        "--output",
        f"{root}/out",
        "--no_progress",
        "--workers",
        "1",
        "--set",
        "render.dpi=100",
    ]
    first = run(argv)
    assert first.summary.ok, first.summary
    assert first.summary.documents_in == 3
    assert first.summary.pages_done == 3
    assert first.summary.errors_by_type == {"encrypted_pdf": 1}

    pages = fs.glob(f"{root}/out/pages/run-*.parquet")
    rows = [r for p in pages for r in pq.read_table(p, filesystem=fs).to_pylist()]
    assert sorted((r["source_uri"], r["page_index"]) for r in rows) == [
        (f"{root}/in/scan.png", 0),
        (f"{root}/in/two-pages.pdf", 0),
        (f"{root}/in/two-pages.pdf", 1),
    ]
    assert any(SENTENCES[4].split()[0] in r["text"] for r in rows)
    summary = json.loads(fs.cat(f"{root}/out/_SUMMARY.json"))
    assert summary["ok"] and summary["run_id"] == first.run_id

    # A rerun into the same prefix skips the done pages and adds no rows.
    second = run(argv)
    assert second.summary.ok and second.summary.duplicate_pages == 0
    assert fs.glob(f"{root}/out/pages/run-*.parquet") == pages


@pytest.fixture
def gcs(tmp_path, monkeypatch):
    with gcs_emulator(tmp_path / "gcs", "ocrbeam-test") as host:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", host)
        yield fsspec.filesystem("gs", skip_instance_cache=True)


@pytest.mark.gcs
def test_gs_input_and_output(gcs):
    _upload(gcs, "gs://ocrbeam-test")
    _run_and_check(gcs, "gs://ocrbeam-test")


@pytest.fixture
def s3(monkeypatch):
    with s3_server() as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        fs = fsspec.filesystem("s3", skip_instance_cache=True)
        fs.mkdir("ocrbeam-test")
        yield fs


@pytest.mark.s3
def test_s3_input_and_output(s3):
    _upload(s3, "s3://ocrbeam-test")
    _run_and_check(s3, "s3://ocrbeam-test")
