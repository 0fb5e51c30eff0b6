"""One OCR engine as a worker process holds it: in a child process or in
process, restarted after a crash, recycled after N pages."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Optional

from .isolation import IsolatedWorker
from .ppocrv5 import ENGINE_PROCESS_NAME, EngineOutput, EngineServer


class EngineHost:
    """An :class:`.ppocrv5.EngineServer` and where it lives.

    With ``isolate`` the server runs in a child process, so a native crash or
    hang costs one page (the child is restarted, which counts as a model
    load); otherwise it runs in this process.  Calls are serialised:
    PaddleOCR pipelines are not documented as thread-safe, and parallelism
    comes from worker processes and intra-op threads.
    """

    def __init__(
        self,
        factory: Callable[[], EngineServer],
        *,
        isolate: bool,
        timeout_s: Optional[float],
        recycle_after: Optional[int] = None,
    ):
        """``factory`` builds the server (picklable: with ``isolate`` it runs
        in the child process).  The model loads here, not at the first page."""
        self._recycle_after = recycle_after
        self.lock = threading.Lock()
        self._reported_loads = 0
        if isolate:
            self._worker: Any = IsolatedWorker(
                factory, timeout_s=timeout_s, name=ENGINE_PROCESS_NAME
            )
            self._worker.call("ping")
        else:
            self._worker = None
            self._server = factory()
        self._inprocess_starts = 0 if isolate else 1

    @property
    def loads(self) -> int:
        """Times the model was built by this host (restarts included)."""
        return self._worker.starts if self._worker else self._inprocess_starts

    @property
    def pid(self) -> Optional[int]:
        """The engine process's id (None when the engine runs in process)."""
        return self._worker.pid if self._worker else None

    def take_new_loads(self) -> int:
        """Loads since the last call (each is reported as a metric once)."""
        with self.lock:
            new, self._reported_loads = self.loads - self._reported_loads, self.loads
        return new

    def predict(self, png: bytes, text_layer: Optional[str] = None) -> EngineOutput:
        """The page read (``text_layer``: its own lines, to read it from;
        :meth:`.ppocrv5.EngineServer.ocr`)."""
        args = (png,) if text_layer is None else (png, text_layer)
        if self._worker is None:
            with self.lock:
                return self._server.ocr(*args)
        if (
            self._recycle_after
            and self._worker.calls_since_start >= self._recycle_after
        ):
            self._worker.close()
        return self._worker.call("ocr", *args)

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
