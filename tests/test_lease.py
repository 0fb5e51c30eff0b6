"""One run at a time per output: the lease on local paths, s3:// (moto's
server, which enforces If-None-Match / If-Match like S3) and gs:// (the
emulator, which ignores generation preconditions: there the lease is
checked, and real GCS enforces it too)."""

from __future__ import annotations

import json
import os
import socket
import threading
import time

import pytest
from servers import gcs_emulator, s3_server

from ocrbeam.output.lease import LEASE_FILE, Lease, LeaseHeld


def _race(output: str, runs: int = 2) -> list[str]:
    """``runs`` leases on one output taken at the same instant: the winners."""
    barrier = threading.Barrier(runs)
    won, lost, leases = [], [], []

    def take(i):
        lease = Lease(output, f"run-{i}", ttl_s=60)
        barrier.wait()
        try:
            lease.acquire()
        except LeaseHeld:
            lost.append(i)
            return
        won.append(i)
        leases.append(lease)

    threads = [threading.Thread(target=take, args=(i,)) for i in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for lease in leases:
        lease.release()
    assert len(lost) == runs - len(won)
    return won


def test_runs_starting_together_on_a_local_output_one_wins(tmp_path):
    for attempt in range(10):
        assert len(_race(str(tmp_path / f"out{attempt}"), runs=4)) == 1


@pytest.mark.s3
def test_runs_starting_together_on_s3_one_wins(monkeypatch):
    import boto3

    with s3_server() as endpoint:
        for key, value in {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "k",
                           "AWS_SECRET_ACCESS_KEY": "s", "AWS_DEFAULT_REGION":
                           "us-east-1"}.items():  # fmt: skip
            monkeypatch.setenv(key, value)
        boto3.client("s3").create_bucket(Bucket="lake")
        for attempt in range(5):
            assert len(_race(f"s3://lake/out{attempt}", runs=3)) == 1


def test_a_live_lease_names_its_holder_and_a_released_one_is_free(tmp_path):
    out = str(tmp_path / "out")
    with Lease(out, "first"):
        with pytest.raises(LeaseHeld, match=r"is in use by run first \(host"):
            Lease(out, "second").acquire()
    assert not (tmp_path / "out" / LEASE_FILE).exists()
    with Lease(out, "second"):
        pass


def _dead_lease(path, host: str, pid: int, heartbeat: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"run_id": "dead", "host": host, "pid": pid,
                                "started": heartbeat, "heartbeat": heartbeat,
                                "ttl_s": 60}))  # fmt: skip


def test_a_lease_whose_holder_died_on_this_host_is_taken_over_at_once(tmp_path):
    gone = os.fork()
    if gone == 0:
        os._exit(0)
    os.waitpid(gone, 0)  # a pid that no longer runs
    path = tmp_path / "out" / LEASE_FILE
    _dead_lease(path, socket.gethostname(), gone, time.time())
    with Lease(str(tmp_path / "out"), "next"):
        assert json.loads(path.read_text())["run_id"] == "next"


def test_a_lease_of_another_host_is_dead_only_once_its_heartbeat_is_old(tmp_path):
    path = tmp_path / "out" / LEASE_FILE
    _dead_lease(path, "elsewhere", 1, time.time() - 5)
    with pytest.raises(LeaseHeld, match="host elsewhere"):
        Lease(str(tmp_path / "out"), "next").acquire()
    _dead_lease(path, "elsewhere", 1, time.time() - 61)  # older than ttl_s
    with Lease(str(tmp_path / "out"), "next"):
        assert json.loads(path.read_text())["run_id"] == "next"


def test_the_holder_renews_its_lease(tmp_path):
    path = tmp_path / "out" / LEASE_FILE
    with Lease(str(tmp_path / "out"), "beating", ttl_s=2.0):
        first = json.loads(path.read_text())["heartbeat"]
        time.sleep(1.2)  # more than ttl_s / 4
        assert json.loads(path.read_text())["heartbeat"] > first


@pytest.mark.gcs
def test_a_gcs_output_is_held_and_released(tmp_path, monkeypatch):
    import fsspec

    with gcs_emulator(tmp_path / "gcs", "lake") as host:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", host)
        with Lease("gs://lake/out", "first"):
            with pytest.raises(LeaseHeld, match="is in use by run first"):
                Lease("gs://lake/out", "second").acquire()
        fs = fsspec.filesystem("gs", skip_instance_cache=True)
        assert not fs.exists(f"lake/out/{LEASE_FILE}")
        with Lease("gs://lake/out", "second"):
            assert fs.exists(f"lake/out/{LEASE_FILE}")
