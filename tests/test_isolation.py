import pytest
from isolation_servers import Server, broken_factory
from ocrbeam.transforms.isolation import IsolatedWorker, WorkerCrashed, WorkerTimeout


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
