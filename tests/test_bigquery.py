"""BigQuery sink against a real BigQuery emulator on loopback (bqemulator).

Beam's apitools BigQuery client (tables, load jobs) has its endpoint fixed in
code (``BigqueryV2.BASE_URL``) and no option to change it, so this fixture
points that class attribute at the emulator, in this process only; streaming
inserts use google-cloud-bigquery, which honours BIGQUERY_EMULATOR_HOST.  The
pipeline runs in-process (FnApiRunner, in_memory) so its workers see the same
endpoint.  The product code uses Beam's sink as is.  FILE_LOADS stages its
files on the GCS emulator, whose on-disk folder the BigQuery emulator's load
jobs read.
"""

import pytest
from ocrbeam.pipelines.batch import run
from ocrbeam.transforms.bigquery import table_parameters, table_schema
from ocrbeam.transforms.config import BigQueryConfig
from ocrbeam.transforms.records import DeadLetter, PageResult
from ocrbeam.transforms.sinks import arrow_schema
from servers import bigquery_emulator, gcs_emulator

from docs import DATA, SENTENCES, pdf_of_pages

PROJECT = "ocrbeam-test"
BUCKET = "ocrbeam-bq"


def test_table_schema_is_derived_from_the_record_types():
    for record in (PageResult, DeadLetter):
        schema = table_schema(record)
        assert [f["name"] for f in schema["fields"]] == list(record._fields)
        arrow = arrow_schema(record)
        for field in schema["fields"]:
            nullable = arrow.field(field["name"]).nullable
            assert field["mode"] == ("NULLABLE" if nullable else "REQUIRED")
    kinds = {f["name"]: f["type"] for f in table_schema(PageResult)["fields"]}
    assert kinds["page_index"] == "INTEGER" and kinds["text"] == "STRING"
    assert kinds["mean_score"] == "FLOAT"


def test_partitioning_and_clustering_are_configurable():
    assert table_parameters(BigQueryConfig()) == {
        "timePartitioning": {"type": "DAY"},
        "clustering": {"fields": ["doc_id"]},
    }
    assert (
        table_parameters(
            BigQueryConfig(partition_by_ingestion_date=False, cluster_by=[])
        )
        == {}
    )


@pytest.fixture
def warehouse(tmp_path, monkeypatch):
    from apache_beam.io.gcp.internal.clients import bigquery as bq_api
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    gcs_root = tmp_path / "gcs"
    with (
        gcs_emulator(gcs_root, BUCKET) as gcs_host,
        bigquery_emulator(PROJECT, gcs_root / "objects") as bq_host,
    ):
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_host)
        # Streaming inserts go through google-cloud-bigquery, which honours
        # BIGQUERY_EMULATOR_HOST; everything else through apitools.
        monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", bq_host)
        monkeypatch.setattr(bq_api.BigqueryV2, "BASE_URL", f"{bq_host}/bigquery/v2/")
        client = bigquery.Client(
            project=PROJECT,
            credentials=AnonymousCredentials(),
            client_options=ClientOptions(api_endpoint=bq_host),
        )
        client.create_dataset("ocr")
        yield client


def _folder(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "two-pages.pdf").write_bytes(
        pdf_of_pages([SENTENCES[0:2], SENTENCES[2:4]])
    )
    (folder / "locked.pdf").write_bytes(
        (DATA / "libreoffice-writer-password.pdf").read_bytes()
    )
    return folder


@pytest.mark.bigquery
@pytest.mark.gcs
@pytest.mark.model
@pytest.mark.pipeline
@pytest.mark.parametrize("method", ["FILE_LOADS", "STREAMING_INSERTS"])
def test_pages_and_dead_letters_land_in_bigquery(warehouse, tmp_path, method):
    table = f"{PROJECT}:ocr.pages_{method.lower()}"
    outcome = run(
        [
            "--input", str(_folder(tmp_path)),
            "--output", str(tmp_path / "out"),
            "--runner", "FnApiRunner",
            "--direct_running_mode", "in_memory",
            "--project", PROJECT,
            "--temp_location", f"gs://{BUCKET}/tmp",
            "--no_progress",
            "--set", "render.dpi=100",
            "--set", f"sink.bigquery.pagesTable={table}",
            "--set", f"sink.bigquery.method={method}",
        ]
    )  # fmt: skip
    assert outcome.summary.ok
    pages = list(
        warehouse.query(
            f"SELECT source_uri, page_index, page_count, text, route "
            f"FROM `{PROJECT}.ocr.pages_{method.lower()}` ORDER BY page_index"
        ).result()
    )
    assert [(r.page_index, r.page_count, r.route) for r in pages] == [
        (0, 2, "structure"),
        (1, 2, "structure"),
    ]
    assert SENTENCES[0].split()[0] in pages[0].text
    errors = list(
        warehouse.query(
            f"SELECT source_uri, error_type, stage "
            f"FROM `{PROJECT}.ocr.pages_{method.lower()}_errors`"
        ).result()
    )
    assert [(r.source_uri.rsplit("/", 1)[1], r.error_type) for r in errors] == [
        ("locked.pdf", "encrypted_pdf")
    ]
    created = warehouse.get_table(f"{PROJECT}.ocr.pages_{method.lower()}")
    assert [f.name for f in created.schema] == list(PageResult._fields)


@pytest.mark.bigquery
@pytest.mark.gcs
@pytest.mark.streaming
@pytest.mark.model
@pytest.mark.pipeline
def test_streaming_pages_land_in_bigquery(warehouse, tmp_path):
    import apache_beam as beam
    import fsspec
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
    from apache_beam.testing.test_stream import TestStream as BeamTestStream
    from apache_beam.transforms.window import TimestampedValue
    from ocrbeam.pipelines.stream import build_stream_pipeline
    from ocrbeam.transforms.config import load_config
    from servers import gcs_notification

    fs = fsspec.filesystem("gs", skip_instance_cache=True)
    fs.pipe(f"{BUCKET}/landed.pdf", pdf_of_pages([SENTENCES[0:2], SENTENCES[2:4]]))
    fs.pipe(f"{BUCKET}/junk.pdf", b"not a pdf" * 8)
    landed = gcs_notification(fs, BUCKET, "landed.pdf")
    junk = gcs_notification(fs, BUCKET, "junk.pdf")
    stream = (
        BeamTestStream()
        .advance_watermark_to(0)
        .add_elements([TimestampedValue(landed, 5), TimestampedValue(junk, 6)])
        .advance_watermark_to_infinity()
    )
    table = f"{PROJECT}:ocr.stream_pages"
    config = load_config(
        None,
        ["render.dpi=100", f"sink.bigquery.pagesTable={table}",
         "sink.bigquery.method=STREAMING_INSERTS"],
    )  # fmt: skip
    options = PipelineOptions(runner="BundleBasedDirectRunner", project=PROJECT)
    options.view_as(StandardOptions).streaming = True
    with beam.Pipeline(options=options) as pipeline:
        build_stream_pipeline(
            pipeline, str(tmp_path / "out"), config, messages=pipeline | stream
        )
    rows = list(
        warehouse.query(
            f"SELECT source_uri, page_index FROM `{PROJECT}.ocr.stream_pages` "
            "ORDER BY page_index"
        ).result()
    )
    assert [(r.source_uri, r.page_index) for r in rows] == [
        (f"gs://{BUCKET}/landed.pdf", 0),
        (f"gs://{BUCKET}/landed.pdf", 1),
    ]
    errors = list(
        warehouse.query(
            f"SELECT source_uri, error_type FROM `{PROJECT}.ocr.stream_pages_errors`"
        ).result()
    )
    assert [(r.source_uri, r.error_type) for r in errors] == [
        (f"gs://{BUCKET}/junk.pdf", "unsupported_format")
    ]
