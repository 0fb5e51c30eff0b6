"""Streaming: Cloud Storage notifications through TestStream, and --watch.

Notification payloads are built from the documented format
(https://cloud.google.com/storage/docs/pubsub-notifications): attributes
eventType, bucketId, objectId, objectGeneration, payloadFormat, and the JSON
object resource as data.  The objects themselves live on the GCS emulator.
"""

import glob
import json
import os

import apache_beam as beam
import pyarrow.parquet as pq
import pytest
from apache_beam.io.gcp.pubsub import PubsubMessage
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_stream import TestStream as BeamTestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue
from ocrbeam.pipelines.stream import build_stream_pipeline
from ocrbeam.transforms.config import load_config
from ocrbeam.transforms.notifications import NotificationError, parse_notification
from servers import gcs_emulator, gcs_notification

from docs import SENTENCES, pdf_of_pages

BUCKET = "landing"


def notification(fs, name, event="OBJECT_FINALIZE"):
    return gcs_notification(fs, BUCKET, name, event)


def test_parse_finalize_pins_the_generation():
    message = PubsubMessage(
        json.dumps(
            {"bucket": "b", "name": "a/x.pdf", "generation": "17", "size": "9"}
        ).encode(),
        {"eventType": "OBJECT_FINALIZE", "bucketId": "b", "objectId": "a/x.pdf"},
    )
    ref = parse_notification(message.data, message.attributes)
    assert (ref.source_uri, ref.size, ref.generation) == ("gs://b/a/x.pdf", 9, "17")


@pytest.mark.parametrize(
    "event", ["OBJECT_DELETE", "OBJECT_METADATA_UPDATE", "OBJECT_ARCHIVE"]
)
def test_other_events_are_ignored(event):
    assert parse_notification(b"{}", {"eventType": event}) is None


@pytest.mark.parametrize(
    "data, attributes, reason",
    [
        (b"{}", {}, "eventType"),
        (b"not json", {"eventType": "OBJECT_FINALIZE"}, "not JSON"),
        (b"[1]", {"eventType": "OBJECT_FINALIZE"}, "not a JSON object"),
        (b'{"bucket": "b"}', {"eventType": "OBJECT_FINALIZE"}, "object name"),
        (
            b'{"bucket": "b", "name": "n"}',
            {"eventType": "OBJECT_FINALIZE"},
            "generation",
        ),
        (
            b'{"bucket": "b", "name": "n", "generation": "1", "size": "big"}',
            {"eventType": "OBJECT_FINALIZE"},
            "not a number",
        ),
    ],
)
def test_malformed_messages_raise_with_a_reason(data, attributes, reason):
    with pytest.raises(NotificationError, match=reason):
        parse_notification(data, attributes)


@pytest.fixture
def landing(tmp_path, monkeypatch):
    import fsspec

    with gcs_emulator(tmp_path / "gcs", BUCKET) as host:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", host)
        yield fsspec.filesystem("gs", skip_instance_cache=True)


@pytest.mark.streaming
@pytest.mark.s3
def test_reads_are_pinned_to_the_version_they_name(monkeypatch):
    """A notification names one version of an object; the read gets that
    version's bytes even after the object was overwritten (S3 object versions
    on moto's server; GCS generations work the same way through gcsfs, but
    the GCS emulator serves the latest generation whatever is asked)."""
    import boto3
    from servers import s3_server

    from ocrbeam.storage import open_pinned

    with s3_server() as endpoint:
        for key, value in {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "k",
                           "AWS_SECRET_ACCESS_KEY": "s",
                           "AWS_DEFAULT_REGION": "us-east-1"}.items():  # fmt: skip
            monkeypatch.setenv(key, value)
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="landing")
        s3.put_bucket_versioning(
            Bucket="landing", VersioningConfiguration={"Status": "Enabled"}
        )
        first = s3.put_object(Bucket="landing", Key="v.pdf", Body=b"%PDF-1.7 first")
        s3.put_object(Bucket="landing", Key="v.pdf", Body=b"%PDF-1.7 second")
        with open_pinned("s3://landing/v.pdf", first["VersionId"]) as fh:
            assert fh.read() == b"%PDF-1.7 first"
        with open_pinned("s3://landing/v.pdf") as fh:
            assert fh.read() == b"%PDF-1.7 second"


def _rows(folder):
    files = sorted(glob.glob(os.path.join(folder, "window-*.parquet")))
    return files, [r for f in files for r in pq.read_table(f).to_pylist()]


@pytest.mark.streaming
@pytest.mark.gcs
@pytest.mark.model
@pytest.mark.pipeline
def test_notifications_stream_to_windowed_parquet(landing, tmp_path):
    landing.pipe(f"{BUCKET}/a.pdf", pdf_of_pages([SENTENCES[0:2]]))
    landing.pipe(f"{BUCKET}/b.pdf", pdf_of_pages([SENTENCES[2:4], SENTENCES[4:5]]))
    landing.pipe(f"{BUCKET}/junk.pdf", b"this is not a pdf" * 4)
    a, b, junk = (notification(landing, n) for n in ("a.pdf", "b.pdf", "junk.pdf"))
    deleted = notification(landing, "a.pdf", event="OBJECT_DELETE")
    malformed = PubsubMessage(
        b"{oops",
        {"eventType": "OBJECT_FINALIZE", "bucketId": BUCKET, "objectId": "c.pdf"},
    )
    stream = (
        BeamTestStream()
        .advance_watermark_to(0)
        .add_elements(
            [
                TimestampedValue(a, 5),
                TimestampedValue(a, 6),  # redelivery
                TimestampedValue(deleted, 7),
                TimestampedValue(malformed, 8),
            ]
        )
        .advance_watermark_to(60)
        .add_elements(
            [
                TimestampedValue(b, 65),
                TimestampedValue(junk, 70),
                TimestampedValue(b, 75),
            ]
        )  # redelivery
        .advance_watermark_to_infinity()
    )
    options = PipelineOptions(runner="BundleBasedDirectRunner")
    options.view_as(StandardOptions).streaming = True
    out = tmp_path / "out"
    config = load_config(None, ["render.dpi=100", "ocr.batchSize=1"])
    with beam.Pipeline(options=options) as pipeline:
        messages = pipeline | stream
        result = build_stream_pipeline(
            pipeline, str(out), config, messages=messages, window_s=60
        )
        assert_that(
            result.pages
            | "Keys" >> beam.Map(lambda r: (r.source_uri, r.page_index, r.page_count)),
            equal_to(
                [
                    (f"gs://{BUCKET}/a.pdf", 0, 1),
                    (f"gs://{BUCKET}/b.pdf", 0, 2),
                    (f"gs://{BUCKET}/b.pdf", 1, 2),
                ]
            ),
            label="each announced page once, duplicates dropped",
        )
        assert_that(
            result.dead_letters
            | "DeadKeys" >> beam.Map(lambda d: (d.source_uri, d.stage, d.error_type)),
            equal_to(
                [
                    (f"gs://{BUCKET}/c.pdf", "notify", "malformed_notification"),
                    (f"gs://{BUCKET}/junk.pdf", "split", "unsupported_format"),
                ]
            ),
            label="malformed message and bad document are dead letters",
        )

    page_files, pages = _rows(out / "pages")
    assert len(pages) == 3
    # One file per window: a.pdf landed in [0, 60), b.pdf in [60, 120).
    names = [os.path.basename(f) for f in page_files]
    assert names == [
        "window-19700101T000000Z-19700101T000100Z-pane-000-shard-00000-of-00001.parquet",
        "window-19700101T000100Z-19700101T000200Z-pane-000-shard-00000-of-00001.parquet",
    ]
    assert {r["source_uri"] for r in pq.read_table(page_files[0]).to_pylist()} == {
        f"gs://{BUCKET}/a.pdf"
    }
    assert (
        SENTENCES[0].split()[0] in pq.read_table(page_files[0]).to_pylist()[0]["text"]
    )
    _, errors = _rows(out / "errors")
    assert sorted(e["error_type"] for e in errors) == [
        "malformed_notification",
        "unsupported_format",
    ]
    # Nothing half-written is left where readers look.
    assert not [f for f in os.listdir(out / "pages") if not f.startswith("window-")]


@pytest.mark.streaming
@pytest.mark.model
@pytest.mark.pipeline
def test_watch_ocrs_files_as_they_land_then_stops_complete(tmp_path):
    import threading
    import time

    from ocrbeam.pipelines.stream import run

    landing = tmp_path / "landing"
    landing.mkdir()
    out = tmp_path / "out"
    result = run(
        ["--watch", str(landing / "*.pdf"), "--output", str(out),
         "--poll_interval_s", "0.5", "--window_s", "2",
         "--set", "render.dpi=100", "--set", "ocr.batchSize=1"],
        block=False,
    )  # fmt: skip
    waiter = threading.Thread(target=result.wait_until_finish, daemon=True)
    waiter.start()
    try:
        seen_while_running = []
        for i in range(3):
            (landing / f".part-{i}").write_bytes(pdf_of_pages([SENTENCES[i : i + 2]]))
            (landing / f".part-{i}").rename(landing / f"doc{i}.pdf")  # lands whole
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                _, rows = _rows(out / "pages") if (out / "pages").exists() else ([], [])
                if {r["source_uri"] for r in rows} >= {str(landing / f"doc{i}.pdf")}:
                    break
                time.sleep(0.5)
            seen_while_running.append(len(rows))
        # Each document was OCR'd and written while the job kept running.
        assert seen_while_running == [1, 2, 3]
        assert waiter.is_alive()
    finally:
        result.cancel()
    waiter.join(timeout=30)
    files, rows = _rows(out / "pages")
    assert sorted(r["source_uri"] for r in rows) == [
        str(landing / f"doc{i}.pdf") for i in range(3)
    ]
    assert SENTENCES[0].split()[0] in rows[0]["text"] or any(
        SENTENCES[0].split()[0] in r["text"] for r in rows
    )
    # Only complete files are visible: window files, no temporaries.
    assert all(os.path.basename(f).startswith("window-") for f in files)
    assert not [f for f in os.listdir(out / "pages") if f.startswith(".tmp")]


@pytest.mark.streaming
@pytest.mark.parametrize(
    "args, message",
    [
        (["--output", "out"], "exactly one of --subscription, --topic, --watch"),
        (
            [
                "--watch",
                "x/*.pdf",
                "--subscription",
                "projects/p/subscriptions/s",
                "--output",
                "out",
            ],
            "exactly one",
        ),
        (["--watch", "x/*.pdf"], "--output is required"),
    ],
)
def test_stream_usage_errors_exit_2(args, message, capsys):
    from ocrbeam.cli import main

    assert main(["stream", *args]) == 2
    assert message in capsys.readouterr().err


def test_stream_help_names_sources_and_outputs(capsys):
    from ocrbeam.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["stream", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for word in (
        "--subscription",
        "--watch",
        "--window_s",
        "OBJECT_FINALIZE",
        "window-START-END",
        "--dedupe_ttl_s",
    ):
        assert word in text
    assert "--force" not in text
