"""The machine's pool of engines for a local run: a page goes to whichever
engine is free.

:class:`EnginePool` holds the engines; :class:`SharedEnginePool` is how a run
names one pool across processes: Beam's ``MultiProcessShared`` serves it from
the process that creates it (``ocrbeam run``'s own, where the default local
run keeps Beam too), and with ``--direct_running_mode multi_processing``
Beam's worker processes connect to it.  The launcher creates the pool before
the pipeline starts, so the engines load while Beam plans the graph.
"""

from __future__ import annotations

import os
import queue
import tempfile
import threading
import uuid
from collections.abc import Callable
from typing import Any, Optional

from ocrbeam.engines.ppocrv5 import EngineOutput


class EnginePool:
    """A machine's engines; they start loading in the background as soon as
    the pool exists."""

    def __init__(self, factory: Callable[[], Any], size: int):
        self._idle: queue.Queue = queue.Queue()
        self._engines: list = []
        self._lock = threading.Lock()
        self._reported = 0
        self._closed = False
        # Loads under way count as loads from the start: an engine that
        # finishes loading after the last page has been paid for all the same,
        # and nothing would report it later.
        self._loading = size
        for i in range(size):
            threading.Thread(
                target=self._start,
                args=(factory,),
                name=f"engine-load-{i}",
                daemon=True,
            ).start()

    def _start(self, factory) -> None:
        try:
            engine = factory()
        except Exception as exc:  # noqa: BLE001 - every caller sees it
            with self._lock:
                self._loading -= 1
            self._idle.put(exc)
            return
        with self._lock:
            self._engines.append(engine)  # its load counts either way
            self._loading -= 1
            closed = self._closed
        if closed:  # the run ended while this engine loaded
            engine.close()
            return
        self._idle.put(engine)

    def close(self) -> None:
        """Stop the engines (the run is over); one still loading stops as
        soon as it has loaded."""
        with self._lock:
            self._closed = True
            engines = list(self._engines)  # kept: their loads stay counted
        # Side by side: each engine process takes a moment to release its
        # models and exit, and the run waits for the last.
        closing = [
            threading.Thread(target=engine.close, name=f"engine-close-{i}")
            for i, engine in enumerate(engines)
        ]
        for thread in closing:
            thread.start()
        for thread in closing:
            thread.join()

    def predict(self, png: bytes, *text_layer: str) -> EngineOutput:
        engine = self._idle.get()
        if isinstance(engine, Exception):
            self._idle.put(engine)
            raise RuntimeError(f"the engine failed to load: {engine}")
        try:
            return engine.predict(png, *text_layer)
        finally:
            self._idle.put(engine)

    def take_new_loads(self) -> int:
        with self._lock:
            total = sum(engine.loads for engine in self._engines) + self._loading
            new, self._reported = total - self._reported, total
        return new


class PooledEngine:
    """A worker process's handle on the machine's ``EnginePool``: what the
    handler's ``load_model`` returns with a pool.  ``concurrency`` is how many
    pages the pool works on at once."""

    def __init__(self, pool, concurrency: int):
        self._pool = pool
        self.concurrency = concurrency

    def predict(self, png: bytes, *text_layer: str) -> EngineOutput:
        return self._pool.predict(png, *text_layer)

    def take_new_loads(self) -> int:
        return self._pool.take_new_loads()


def shared_dir() -> str:
    """Where Beam's MultiProcessShared keeps the pool's lock and address files."""
    path = os.path.join(tempfile.gettempdir(), f"ocrbeam-shared-{os.getuid()}")
    os.makedirs(path, exist_ok=True)
    return path


def remove_shared_files(tag: str) -> None:
    """Delete a finished run's pool files (lock, address)."""
    for suffix in (".lock", ".address"):
        try:
            os.remove(os.path.join(shared_dir(), tag + suffix))
        except OSError:
            pass


class _PoolFactory:
    """Builds the ``EnginePool`` where MultiProcessShared serves it (picklable)."""

    def __init__(self, engine_factory: Callable[[], Any], size: int):
        self._engine_factory = engine_factory
        self._size = size

    def __call__(self) -> EnginePool:
        return EnginePool(self._engine_factory, self._size)


class SharedEnginePool:
    """One run's engine pool, named by a tag: picklable, so it travels with
    the handler to every worker process, where :meth:`acquire` connects to
    the pool (or, in the first process to ask, creates and serves it).

    Example:
        >>> pool = SharedEnginePool(engine_factory, size=2)
        >>> pool.acquire().predict(png)      # any process of the machine
        >>> pool.close()                     # the creating process, at the end
    """

    def __init__(
        self, engine_factory: Callable[[], Any], size: int, tag: Optional[str] = None
    ):
        self.size = size
        self.tag = tag or f"ocrbeam-engines-{uuid.uuid4().hex[:16]}"
        self._factory = _PoolFactory(engine_factory, size)
        self._acquired: Any = None

    def acquire(self):
        """The pool (a proxy of it in processes that do not serve it)."""
        from apache_beam.utils.multi_process_shared import MultiProcessShared

        return MultiProcessShared(
            self._factory,
            tag=self.tag,
            path=shared_dir(),
            # The process serving the pool calls it directly; only other
            # processes go through a socket.  Proxying our own calls would
            # pickle every page image and result twice more, and the proxy's
            # connection would delay the first page.
            always_proxy=False,
        ).acquire()

    def handle(self) -> PooledEngine:
        """What a handler's ``load_model`` returns: the pool, as one engine."""
        return PooledEngine(self.acquire(), self.size)

    def start(self):
        """Create the pool here (its engines start loading) and keep it; the
        creating process serves it and stops it with :meth:`close`."""
        self._acquired = self.acquire()
        return self._acquired

    def close(self) -> None:
        """Stop the engines of a pool this process started, and remove the
        pool's files."""
        try:
            if self._acquired is not None:
                self._acquired.close()
        finally:
            self._acquired = None
            remove_shared_files(self.tag)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_acquired"] = None  # a live pool stays where it was started
        return state
