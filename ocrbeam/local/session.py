"""One pipeline run on this machine, with what a local run adds around it:
progress lines while it runs, and the engine pool started before it and
stopped after it."""

from __future__ import annotations

import logging
import shutil
import tempfile
from typing import Any, Optional

_LOG = logging.getLogger(__name__)


class LocalSession:
    """Runs a pipeline with progress lines and the run's engine pool.

    Example:
        >>> session = LocalSession(show_progress=True)
        >>> outputs = build_pipeline(..., progress_dir=session.progress_dir)
        >>> result = session.run(pipeline, outputs.engine_pool)
    """

    def __init__(self, show_progress: bool):
        #: Where the stages write their progress counts (None: no progress).
        self.progress_dir: Optional[str] = (
            tempfile.mkdtemp(prefix="ocrbeam-progress-") if show_progress else None
        )

    def run(self, pipeline, engine_pool=None) -> Any:
        """Run ``pipeline`` to the end; returns Beam's result.

        ``engine_pool`` (a :class:`.pool.SharedEnginePool`) is created in this
        process before the pipeline starts, so its engines load while Beam
        plans the graph (worker processes connect to it), and it is stopped
        when the pipeline ends, however it ends.
        """
        from .progress import ProgressMonitor

        monitor = (
            ProgressMonitor(self.progress_dir).start() if self.progress_dir else None
        )
        _start(engine_pool)
        try:
            result = pipeline.run()
            result.wait_until_finish()
            return result
        finally:
            if monitor:
                monitor.stop()
                shutil.rmtree(self.progress_dir, ignore_errors=True)
            if engine_pool is not None:
                _stop(engine_pool)


def _start(engine_pool) -> None:
    """Start the pool here, if there is one; where it cannot start here, the
    OCR stage starts it, as in a pipeline run by other means."""
    if engine_pool is None:
        return
    try:
        engine_pool.start()
    except Exception as exc:  # noqa: BLE001 - the OCR stage starts it then
        _LOG.warning("could not start the engines early (they load later): %s", exc)


def _stop(engine_pool) -> None:
    """Stop the pool's engines and remove its files (the run's result stands)."""
    try:
        engine_pool.close()
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        _LOG.warning("stopping the engine pool failed: %s", exc)
