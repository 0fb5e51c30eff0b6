"""``--watch GLOB``: new files under a storage prefix, as an unbounded stream.

On Dataflow and Flink this is Beam's ``fileio.MatchContinuously`` (a
splittable DoFn).  Beam 2.77's local streaming runner (BundleBasedDirectRunner)
cannot run splittable DoFns in streaming mode (its streaming GroupByKey
overrides miss the GroupByKey the SDF expansion adds, and its SDF invoker
checks a restriction before the DoFn has run), and Prism needs a binary
download; so local runs use ``PollFiles``, a root transform that the
DirectRunner evaluates itself, the way it evaluates its own Pub/Sub read: each
evaluation lists the glob (at most once per interval), emits files not seen
before, and holds the watermark at the wall clock so windows close as time
passes.

Either way the elements are ``fileio.FileMetadata`` and downstream code is
the same.  ``PollFiles`` teaches the DirectRunner to evaluate it (an entry in
the runner's evaluator registry, added the first time a pipeline uses it, not
when this module is imported).
"""

from __future__ import annotations

import threading
import time
import weakref

import apache_beam as beam
from apache_beam import pvalue


class PollFiles(beam.PTransform):
    """Unbounded: ``FileMetadata`` of files matching ``pattern``, each once.

    A file is new when its (path, size, mtime) was not seen before by this
    transform, so a file rewritten in place is emitted again.
    """

    def __init__(self, pattern: str, interval_s: float = 10.0):
        super().__init__()
        self.pattern = pattern
        self.interval_s = interval_s

    def get_windowing(self, unused_inputs):
        return beam.Windowing(beam.window.GlobalWindows())

    def expand(self, pbegin):
        _register_direct_runner_evaluator()
        return pvalue.PCollection(pbegin.pipeline, is_bounded=False)


def watch_files(pattern: str, interval_s: float, local: bool) -> beam.PTransform:
    """The watching transform for the runner at hand (see module doc)."""
    if local:
        return PollFiles(pattern, interval_s)
    from apache_beam.io import fileio

    return fileio.MatchContinuously(pattern, interval=interval_s)


def _mtime(info: dict) -> float:
    """Modification time (seconds) from an fsspec info dict of any filesystem."""
    mtime = info.get("mtime") or info.get("updated") or info.get("LastModified")
    if hasattr(mtime, "timestamp"):
        mtime = mtime.timestamp()
    try:
        return float(mtime)
    except (TypeError, ValueError):
        return 0.0


def _list(pattern: str) -> list:
    from apache_beam.io.filesystem import FileMetadata

    from ocrbeam.storage import list_files

    return [
        FileMetadata(
            uri, int(info.get("size") or 0), last_updated_in_seconds=_mtime(info)
        )
        for uri, info in list_files(pattern)
    ]


_REGISTERED = threading.Lock()


def _register_direct_runner_evaluator() -> None:
    """Teach the DirectRunner to evaluate ``PollFiles`` (a root transform).

    The DirectRunner has no public hook for this: the evaluator goes into its
    registry's override table, as Beam's own test transforms do.  Idempotent.

    Raises:
        RuntimeError: this Beam release lays its DirectRunner out differently
            (the pin in pyproject.toml is the one this was built for).
    """
    try:
        from apache_beam.runners.direct.transform_evaluator import (
            TransformEvaluatorRegistry,
            TransformResult,
            _TransformEvaluator,
        )

        overrides = TransformEvaluatorRegistry._test_evaluators_overrides
    except (ImportError, AttributeError) as exc:
        raise RuntimeError(
            "--watch on the local runner needs Beam's DirectRunner evaluator "
            f"registry ({exc!r}); run on Dataflow or Flink instead"
        ) from exc
    with _REGISTERED:
        if PollFiles in overrides:
            return
        overrides[PollFiles] = _poll_files_evaluator(
            _TransformEvaluator, TransformResult
        )


def _poll_files_evaluator(_TransformEvaluator, TransformResult):
    """The DirectRunner evaluator class of ``PollFiles``."""
    from apache_beam.transforms.window import GlobalWindows
    from apache_beam.utils.timestamp import Timestamp

    class _PollFilesEvaluator(_TransformEvaluator):
        _state = weakref.WeakKeyDictionary()  # transform -> (seen, last poll)
        _lock = threading.Lock()

        def start_bundle(self):
            pass

        def process_element(self, element):
            pass

        def _poll(self) -> list:
            transform = self._applied_ptransform.transform
            with self._lock:
                seen, last = self._state.get(transform, (set(), 0.0))
                wait = last + transform.interval_s - time.time()
                if wait > 0:
                    # Not due: rest a little rather than spin the executor.
                    time.sleep(min(wait, 0.2))
                    return []
                new = []
                for meta in _list(transform.pattern):
                    key = (meta.path, meta.size_in_bytes, meta.last_updated_in_seconds)
                    if key not in seen:
                        seen.add(key)
                        new.append(meta)
                self._state[transform] = (seen, time.time())
                return new

        def finish_bundle(self):
            now = Timestamp.of(time.time())
            files = self._poll()
            bundles = []
            if files:
                bundle = self._evaluation_context.create_bundle(list(self._outputs)[0])
                for meta in files:
                    bundle.output(GlobalWindows.windowed_value(meta, timestamp=now))
                bundles.append(bundle)
            # Re-schedule this root transform (it never finishes) and hold
            # the watermark at the wall clock.
            again = self._evaluation_context.create_bundle(
                pvalue.PBegin(self._applied_ptransform.transform.pipeline)
            )
            return TransformResult(self, bundles, [again], None, {None: now})

    return _PollFilesEvaluator
