"""Real servers on loopback for the tests: dask.distributed, GCS, S3, BigQuery.

Each starts as its own process (or moto's threaded server), is pointed at by
the clients' standard settings, and is torn down after the tests that use it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: Optional[subprocess.Popen], timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def dask_cluster(workdir: Path, workers: int = 2):
    """``dask scheduler`` and ``workers`` single-threaded ``dask worker``
    processes on 127.0.0.1; yields the scheduler address."""
    port = free_port()
    log = open(workdir / "dask.log", "w")  # noqa: SIM115 - closed below
    env = dict(os.environ)
    procs = [
        subprocess.Popen(
            [
                str(BIN / "dask"),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-dashboard",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=workdir,
        )
    ]
    try:
        wait_for_port(port, procs[0])
        address = f"tcp://127.0.0.1:{port}"
        for _ in range(workers):
            procs.append(
                subprocess.Popen(
                    [
                        str(BIN / "dask"),
                        "worker",
                        address,
                        "--nthreads",
                        "1",
                        "--host",
                        "127.0.0.1",
                        "--no-dashboard",
                        "--memory-limit",
                        "0",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=workdir,
                )
            )
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(workers, timeout=120)
        yield address
    finally:
        _stop(procs)
        log.close()


class GcsEmulator:
    """gcp-storage-emulator storing on disk under ``root/objects``, which can
    be stopped and started again on the same port with the same objects (a
    store that goes away during a run, then comes back)."""

    def __init__(self, root: Path, bucket: str):
        self.root, self.bucket = root, bucket
        self.port = free_port()
        #: What to set as ``STORAGE_EMULATOR_HOST`` (gcsfs and Beam's gcsio).
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: Optional[subprocess.Popen] = None

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "STORAGE_BASE": str(self.root), "STORAGE_DIR": "objects"}
        args = ["start", "--host", "127.0.0.1", "--port", str(self.port)]
        self._process = subprocess.Popen(
            [
                str(BIN / "gcp-storage-emulator"),
                *args,
                "--default-bucket",
                self.bucket,
                "-q",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        wait_for_port(self.port, self._process)

    def stop(self) -> None:
        if self._process is not None:
            _stop([self._process])
            self._process = None


@contextmanager
def gcs_emulator(root: Path, bucket: str):
    """A running :class:`GcsEmulator`; yields the URL to set as
    ``STORAGE_EMULATOR_HOST`` (gcsfs and Beam's gcsio)."""
    emulator = GcsEmulator(root, bucket)
    emulator.start()
    _forget_filesystems("gs")  # as for S3: each emulator is on a new port
    try:
        yield emulator.url
    finally:
        emulator.stop()
        _forget_filesystems("gs")


@contextmanager
def s3_server():
    """moto's S3 server in this process on a free loopback port."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    # fsspec keeps one S3FileSystem per set of arguments for the whole
    # process, holding the endpoint it was made with; each server is on a new
    # port, so clients made for an earlier test's server must go.
    _forget_filesystems("s3")
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        _forget_filesystems("s3")


def _forget_filesystems(protocol: str) -> None:
    import fsspec

    fsspec.get_filesystem_class(protocol).clear_instance_cache()


@contextmanager
def bigquery_emulator(project: str, gcs_root: Path):
    """bqemulator (DuckDB) on loopback; load jobs read gs:// URIs from the GCS
    emulator's on-disk folder ``gcs_root``."""
    from duckdb_extensions import import_extension

    # Install DuckDB's spatial and avro extensions from their wheels into
    # DuckDB's extension folder; bqemulator would download them at start.
    for extension in ("spatial", "avro"):
        import_extension(extension)
    rest, grpc = free_port(), free_port()
    env = {**os.environ, "BQEMU_GCS_LOCAL_ROOT": str(gcs_root)}
    process = subprocess.Popen(
        [
            str(BIN / "bqemulator"),
            "start",
            "--rest-port",
            str(rest),
            "--grpc-port",
            str(grpc),
            "--project",
            project,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        wait_for_port(rest, process, timeout=60)
        yield f"http://127.0.0.1:{rest}"
    finally:
        _stop([process])


def paddlex_ocr_config(path: Path) -> Path:
    """A PaddleX OCR pipeline config on the bundled PP-OCRv5 mobile ONNX
    folders (no document preprocessor, no text-line orientation)."""
    from ocrbeam.models.bundled import bundled_model_dirs

    dirs = bundled_model_dirs("onnxruntime")
    path.write_text(
        f"""pipeline_name: OCR
text_type: general
engine: onnxruntime
use_doc_preprocessor: False
use_textline_orientation: False
SubModules:
  TextDetection:
    module_name: text_detection
    model_name: PP-OCRv5_mobile_det
    model_dir: {dirs["det"]}
    limit_side_len: 64
    limit_type: min
    max_side_limit: 4000
    thresh: 0.3
    box_thresh: 0.6
    unclip_ratio: 1.5
  TextRecognition:
    module_name: text_recognition
    model_name: PP-OCRv5_mobile_rec
    model_dir: {dirs["rec"]}
    batch_size: 1
    score_thresh: 0.0
"""
    )
    return path


@contextmanager
def paddlex_ocr_server(workdir: Path):
    """PaddleX's own serving (``paddlex --serve``) of the general OCR pipeline
    on loopback; yields its base URL once ``GET /health`` answers."""
    import urllib.request

    config = paddlex_ocr_config(workdir / "ocr-serve.yaml")
    port = free_port()
    env = {**os.environ, "PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK": "True"}
    log = open(workdir / "paddlex-serve.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [str(BIN / "paddlex"), "--serve", "--pipeline", str(config),
         "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port, process, timeout=120)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        _stop([process])
        log.close()


def gcs_notification(fs, bucket: str, name: str, event: str = "OBJECT_FINALIZE"):
    """A Cloud Storage Pub/Sub notification for an object on the emulator, in
    the documented format: attributes plus the JSON_API_V1 object resource."""
    import json

    from apache_beam.io.gcp.pubsub import PubsubMessage

    info = fs.info(f"{bucket}/{name}")
    generation = str(info["generation"])
    resource = {
        "kind": "storage#object",
        "id": f"{bucket}/{name}/{generation}",
        "name": name,
        "bucket": bucket,
        "generation": generation,
        "metageneration": "1",
        "contentType": "application/pdf",
        "size": str(info["size"]),
        "md5Hash": "x",
        "timeCreated": "2026-11-21T10:00:00.000Z",
    }
    attributes = {
        "notificationConfig": f"projects/_/buckets/{bucket}/notificationConfigs/1",
        "eventType": event,
        "payloadFormat": "JSON_API_V1",
        "bucketId": bucket,
        "objectId": name,
        "objectGeneration": generation,
        "eventTime": "2026-11-21T10:00:00.000000Z",
    }
    return PubsubMessage(json.dumps(resource).encode(), attributes)


class ScriptedService:
    """A small HTTP service on loopback that answers from a script.

    ``script`` holds ``(status, JSON payload, delay_s)`` answers for POSTs, in
    order (or ``responder(path, body)`` gives them); ``seen`` records
    ``(path, Authorization header, JSON body)`` of each POST; ``files`` maps
    GET paths to bytes (images a service links to).
    """

    def __init__(self):
        self.script: list = []
        self.seen: list = []
        self.files: dict[str, bytes] = {}
        self.responder = None
        self.url = ""

    def handler(self):
        import json
        import threading
        from http.server import BaseHTTPRequestHandler

        service = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status, data, content_type, retry_after=False):
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    if retry_after:
                        self.send_header("Retry-After", "0")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up (timeout)
                    pass

            def do_GET(self):  # noqa: N802 - http.server's name
                data = service.files.get(self.path)
                if data is None:
                    self._send(404, b"not found", "text/plain")
                else:
                    self._send(200, data, "image/jpeg")

            def do_POST(self):  # noqa: N802
                length = int(self.headers["Content-Length"])
                body = json.loads(self.rfile.read(length))
                auth = self.headers.get("Authorization")
                service.seen.append((self.path, auth, body))
                if service.responder is not None:
                    status, payload, delay = service.responder(self.path, body)
                else:
                    status, payload, delay = service.script.pop(0)
                if delay:
                    threading.Event().wait(delay)
                data = json.dumps(payload).encode()
                self._send(status, data, "application/json", status == 429)

            def log_message(self, *args):
                pass

        return Handler


@contextmanager
def scripted_service():
    """A ``ScriptedService`` serving on 127.0.0.1 for the ``with`` block."""
    import threading
    from http.server import ThreadingHTTPServer

    service = ScriptedService()
    server = ThreadingHTTPServer(("127.0.0.1", 0), service.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    service.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield service
    finally:
        server.shutdown()
        server.server_close()
