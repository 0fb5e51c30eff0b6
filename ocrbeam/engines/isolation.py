"""Run native-library work (pdfium, the OCR engine) in a child process.

A segfault or an endless loop inside pdfium or an inference engine would kill or
wedge the Beam worker process, and with it the job.  ``IsolatedWorker`` keeps a
*server* object (built by a picklable factory) in a spawned child process and
calls its methods over a pipe with a timeout:

* the child crashes (segfault, OOM kill)  -> :class:`WorkerCrashed`
* no answer within the timeout            -> the child is killed, :class:`WorkerTimeout`
* the server method raises                -> the same exception is re-raised here

After a crash or timeout the next call starts a fresh child, so one poisoned
page costs one dead letter and one restart, never the job.

``prestart`` starts children ahead of time, before their factory is known:
each imports the heavy modules it will need, then waits; the next
``IsolatedWorker`` of that name adopts one and sends it its factory.  The
``ocrbeam run`` command starts its engines this way before it imports Beam.

Example:
    >>> worker = IsolatedWorker(make_server, timeout_s=60)
    >>> worker.call("render", 3)          # runs make_server().render(3) in the child
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import multiprocessing as mp
import os
import signal
import sys
import threading
import types
from collections.abc import Callable
from typing import Any, Optional

_LOG = logging.getLogger(__name__)


class WorkerCrashed(RuntimeError):
    """The child process died while handling a call."""


class WorkerTimeout(TimeoutError):
    """The child did not answer within the timeout and was killed."""


def _serve(conn, factory: Callable[[], Any]) -> None:
    """Child process main loop: build the server, answer calls until EOF."""
    # The parent handles interrupts; the child just follows its parent's fate.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        server = factory()
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        conn.send(("error", exc))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            method, args, kwargs = conn.recv()
        except (EOFError, OSError):
            _leave()
        try:
            result = getattr(server, method)(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            try:
                conn.send(("error", exc))
            except Exception:  # noqa: BLE001 - exception not picklable
                conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
            continue
        conn.send(("ok", result))


def _leave() -> None:
    """Exit the child now: the parent has let go and nothing is left to do.

    A normal interpreter exit would first tear down every module and the
    models' memory, at the end of every run, for nothing: only the standard
    streams hold anything worth keeping.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - closed or broken: nothing to keep
            pass
    os._exit(0)


def _stand_by(conn, modules: tuple[str, ...]) -> None:
    """A prestarted child: import ``modules``, wait for a factory, serve."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception:  # noqa: BLE001 - the factory reports what is missing
            pass
    try:
        factory = conn.recv()
    except (EOFError, OSError):  # not needed after all: the parent let go
        _leave()
    _serve(conn, factory)


#: Prestarted children by worker name: ``[(process, connection), ...]``.
_STANDING_BY: dict[str, list] = {}
_STANDING_BY_LOCK = threading.Lock()


def prestart(name: str, count: int, modules: tuple[str, ...] = ()) -> None:
    """Start ``count`` children for ``IsolatedWorker(name=name)`` now.

    Each imports ``modules`` while this process goes on with its own work
    (an engine process spends seconds importing PaddleOCR); a worker of that
    name started later adopts one, sends it its factory and waits only for
    the build.  Children nobody adopts exit with this process, or at
    ``stop_standing_by``.
    """
    ctx = mp.get_context("spawn")
    started = []
    for _ in range(count):
        parent, child = ctx.Pipe()
        process = ctx.Process(
            target=_stand_by, args=(child, tuple(modules)), name=name, daemon=True
        )
        with _children_allowed(), _main_module_left_out():
            process.start()
        child.close()
        started.append((process, parent))
    with _STANDING_BY_LOCK:
        _STANDING_BY.setdefault(name, []).extend(started)


def standing_by(name: str) -> list[int]:
    """Process ids of the prestarted children of this name not yet adopted."""
    with _STANDING_BY_LOCK:
        return [process.pid for process, _conn in _STANDING_BY.get(name, [])]


def _adopt(name: str):
    """A live prestarted child of this name, or None."""
    with _STANDING_BY_LOCK:
        waiting = _STANDING_BY.get(name) or []
        while waiting:
            process, conn = waiting.pop(0)
            if process.is_alive():
                return process, conn
            conn.close()
    return None


def stop_standing_by() -> int:
    """Stop the prestarted children nobody adopted; returns how many."""
    with _STANDING_BY_LOCK:
        left = [child for waiting in _STANDING_BY.values() for child in waiting]
        _STANDING_BY.clear()
    for _process, conn in left:
        conn.close()  # the child's recv() sees EOF and leaves
    for process, _conn in left:
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join(timeout=5)
    return len(left)


def _describe_exit(process) -> str:
    code = process.exitcode
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


_DAEMON_FLAG_LOCK = threading.Lock()
_MAIN_MODULE_LOCK = threading.Lock()


@contextlib.contextmanager
def _main_module_left_out():
    """Start a spawned child without re-importing this process's main module.

    ``spawn`` makes the child import the parent's ``__main__`` (as
    ``__mp_main__``).  In a Beam SDK worker that is
    ``apache_beam.runners.worker.sdk_worker_main``: all of Beam, seconds of
    CPU and tens of MB per renderer and engine process, for nothing (their
    code lives in Beam-free modules: ``ocrbeam.engines``).  Our factories
    never live in ``__main__``, so the child does not need it.
    """
    with _MAIN_MODULE_LOCK:
        main = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            yield
        finally:
            if main is not None:
                sys.modules["__main__"] = main


@contextlib.contextmanager
def _children_allowed():
    """Let a daemonic process (a dask.distributed worker, a pool worker) start
    our child.

    multiprocessing refuses children of daemonic processes because they would
    be orphaned when the daemon is killed.  Ours cannot be: they are daemonic
    themselves and exit as soon as the pipe to their parent closes (``_serve``
    returns on EOF).
    """
    current = mp.current_process()
    with _DAEMON_FLAG_LOCK:  # engines may start from several threads at once
        if not current.daemon:
            yield
            return
        current.daemon = False
        try:
            yield
        finally:
            current.daemon = True


class IsolatedWorker:
    """A server object living in a child process, restarted after failures.

    Thread-safe: calls are serialised (one child serves one call at a time).
    """

    def __init__(
        self,
        factory: Callable[[], Any],
        timeout_s: Optional[float] = None,
        start_timeout_s: float = 600.0,
        name: str = "ocrbeam-worker",
    ):
        self._factory = factory
        self._timeout_s = timeout_s
        self._start_timeout_s = start_timeout_s
        self._name = name
        self._lock = threading.Lock()
        self._process = None
        self._conn = None
        #: Children started so far: a caller whose server holds state (an
        #: open document) compares it to know the state is gone.
        self.starts = 0
        self.calls_since_start = 0

    # -- lifecycle -----------------------------------------------------------
    def _start(self) -> None:
        status = payload = None
        adopted = self._adopted()
        if adopted is not None:
            self._process, self._conn = adopted
            try:
                status, payload = self._receive(self._start_timeout_s, starting=True)
            except WorkerCrashed:  # it died standing by: start one afresh
                adopted = None
        if adopted is None:
            self._process, self._conn = self._spawned()
            status, payload = self._receive(self._start_timeout_s, starting=True)
        if status != "ready":
            self.close()
            raise payload
        self.starts += 1
        self.calls_since_start = 0

    def _spawned(self):
        ctx = mp.get_context("spawn")  # fork is unsafe with Beam's gRPC threads
        parent, child = ctx.Pipe()
        process = ctx.Process(
            target=_serve, args=(child, self._factory), name=self._name, daemon=True
        )
        with _children_allowed(), _main_module_left_out():
            process.start()
        child.close()
        return process, parent

    def _adopted(self):
        """A prestarted child (see ``prestart``), given our factory; or None."""
        while (child := _adopt(self._name)) is not None:
            process, conn = child
            try:
                conn.send(self._factory)
                _LOG.info("%s: adopted prestarted process %d", self._name, process.pid)
                return process, conn
            except (BrokenPipeError, OSError):  # it died meanwhile: next one
                conn.close()
            except BaseException:  # e.g. a factory that does not pickle
                conn.close()  # the child sees EOF and exits
                raise
        return None

    def close(self) -> None:
        """Stop the child (if any); the next call starts a new one."""
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            conn.close()
        if process is not None:
            process.join(timeout=2)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)

    @property
    def pid(self) -> Optional[int]:
        return self._process.pid if self._process is not None else None

    # -- calls ---------------------------------------------------------------
    def _receive(self, timeout_s: Optional[float], starting: bool = False):
        conn, process = self._conn, self._process
        if not conn.poll(timeout_s):
            what = "start" if starting else "answer"
            self._kill()
            raise WorkerTimeout(f"{self._name} did not {what} within {timeout_s:g} s")
        try:
            return conn.recv()
        except (EOFError, OSError):
            process.join(timeout=5)
            detail = _describe_exit(process)
            self._kill()
            raise WorkerCrashed(f"{self._name} died ({detail})") from None

    def _kill(self) -> None:
        process = self._process
        self._process = self._conn = None
        if process is not None and process.is_alive():
            process.kill()
            process.join(timeout=5)

    def call(self, method: str, *args, timeout_s: Optional[float] = None, **kwargs):
        """Run ``server.method(*args, **kwargs)`` in the child and return its result."""
        with self._lock:
            if self._process is None or not self._process.is_alive():
                self._start()
            try:
                self._conn.send((method, args, kwargs))
            except (BrokenPipeError, OSError):
                self._kill()
                raise WorkerCrashed(f"{self._name} is gone") from None
            status, payload = self._receive(
                timeout_s if timeout_s is not None else self._timeout_s
            )
            self.calls_since_start += 1
        if status == "error":
            raise payload
        return payload

    def __del__(self):  # pragma: no cover - best effort at interpreter exit
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass


class InProcess:
    """The :class:`IsolatedWorker` call interface over a server in this
    process (isolation switched off): same calls, no child, no timeout."""

    def __init__(self, server: Any):
        self._server = server

    def call(self, method: str, *args, timeout_s=None, **kwargs):
        return getattr(self._server, method)(*args, **kwargs)

    def close(self) -> None:
        pass
