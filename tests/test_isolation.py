import os
import signal
import threading
import time

import pytest
from isolation_servers import Server, broken_factory

from ocrbeam.engines.isolation import (
    IsolatedWorker,
    WorkerCrashed,
    WorkerTimeout,
    prestart,
    standing_by,
    stop_standing_by,
)


@pytest.fixture
def worker():
    w = IsolatedWorker(Server, timeout_s=5, name="test-worker")
    yield w
    w.close()


def test_calls_run_in_a_child_process(worker):
    import os

    assert worker.call("echo", {"a": b"bytes"}) == {"a": b"bytes"}
    assert worker.call("pid") != os.getpid()
    assert worker.starts == 1


def test_server_exceptions_are_reraised_and_the_child_survives(worker):
    first = worker.call("pid")
    with pytest.raises(ValueError, match="bad input"):
        worker.call("fail")
    assert worker.call("pid") == first


def test_a_segfault_becomes_an_exception_and_the_child_restarts(worker):
    first = worker.call("pid")
    with pytest.raises(WorkerCrashed, match="SIGSEGV"):
        worker.call("segfault")
    assert worker.call("pid") != first
    assert worker.starts == 2


def test_a_hang_is_killed_after_the_timeout(worker):
    with pytest.raises(WorkerTimeout, match="within 0.5 s"):
        worker.call("hang", timeout_s=0.5)
    assert worker.call("echo", 1) == 1


def test_a_factory_that_fails_reports_its_error():
    w = IsolatedWorker(broken_factory, timeout_s=5)
    with pytest.raises(RuntimeError, match="cannot build the server"):
        w.call("echo", 1)
    w.close()


def test_a_prestarted_child_is_adopted_with_its_imports_done():
    """``prestart``: the child imports while the parent works; the next
    worker of that name adopts it, and one started later spawns afresh."""
    prestart("test-standby", 1, ("wave",))  # a module Server never imports
    [pid] = standing_by("test-standby")
    worker = IsolatedWorker(Server, timeout_s=5, name="test-standby")
    fresh = IsolatedWorker(Server, timeout_s=5, name="test-standby")
    try:
        assert worker.call("pid") == pid
        assert worker.call("imported", "wave")
        assert standing_by("test-standby") == []
        assert fresh.call("pid") != pid
        assert not fresh.call("imported", "wave")
        process = worker._process
        worker.close()  # the child leaves at once (os._exit), cleanly
        assert process.exitcode == 0
    finally:
        worker.close()
        fresh.close()
    assert stop_standing_by() == 0


def test_dead_prestarted_children_are_skipped_and_idle_ones_stopped():
    prestart("test-dead", 3)
    dead, alive, dying = standing_by("test-dead")
    os.kill(dead, signal.SIGKILL)
    _wait_until_dead(dead)
    worker = IsolatedWorker(Server, timeout_s=5, name="test-dead")
    try:
        assert worker.call("pid") == alive  # the dead one was passed over
    finally:
        worker.close()
    # One that dies after it was adopted, before it answered: a fresh child.
    os.kill(dying, signal.SIGSTOP)
    second = IsolatedWorker(Server, timeout_s=5, name="test-dead")
    try:
        threading.Timer(0.5, os.kill, (dying, signal.SIGKILL)).start()
        assert second.call("pid") not in (dead, alive, dying)
        assert second.starts == 1
    finally:
        second.close()
    prestart("test-idle", 1)
    [idle] = standing_by("test-idle")
    assert stop_standing_by() == 1
    assert standing_by("test-idle") == []
    with pytest.raises(ProcessLookupError):  # gone (and reaped)
        os.kill(idle, 0)


def _wait_until_dead(pid: int) -> None:
    """Until the killed child is a zombie (its parent has yet to reap it)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/stat") as stat:
            if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} did not die")
