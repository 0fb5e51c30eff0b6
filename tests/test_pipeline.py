"""The batch graph on Beam runners, with the real PP-OCRv5 models."""

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from ocrbeam.pipelines.batch import build_pipeline
from ocrbeam.transforms.config import load_config

from docs import SENTENCES, pdf_of_pages
from ocrbeam.text.quality import cer

pytestmark = [pytest.mark.model, pytest.mark.pipeline]

TRUTH = {
    ("two-pages.pdf", 0): SENTENCES[0:2],
    ("two-pages.pdf", 1): SENTENCES[2:4],
    ("scan.png", 0): SENTENCES[4:6],
}


def _page_key(row):
    return (row.source_uri.rsplit("/", 1)[1], row.page_index, row.page_count)


def _dead_key(row):
    return (row.source_uri.rsplit("/", 1)[1], row.page_index, row.stage, row.error_type)


def _text_matches_truth(rows):
    for row in rows:
        truth = "\n".join(TRUTH[(row.source_uri.rsplit("/", 1)[1], row.page_index)])
        if cer(truth, row.text) >= 0.05:
            raise AssertionError(f"CER too high on {row.source_uri}: {row.text!r}")


def _counter(result, name, namespace="ocrbeam.ppocrv5"):
    query = MetricsFilter().with_namespace(namespace).with_name(name)
    found = result.metrics().query(query)["counters"]
    return sum(c.committed or c.attempted or 0 for c in found)


def test_mixed_folder_gives_pages_and_typed_dead_letters(mixed_folder):
    config = load_config(None, ["render.dpi=100", "ocr.batchSize=2"])
    pipeline = TestPipeline(runner="FnApiRunner")
    out = build_pipeline(pipeline, [str(mixed_folder)], None, config, cpu_threads=2)
    assert_that(
        out.pages | "PageKeys" >> beam.Map(_page_key),
        equal_to(
            [("two-pages.pdf", 0, 2), ("two-pages.pdf", 1, 2), ("scan.png", 0, 1)]
        ),
        label="one row per page, right index and count",
    )
    assert_that(out.pages, _text_matches_truth, label="known text comes back")
    assert_that(
        out.dead_letters | "DeadKeys" >> beam.Map(_dead_key),
        equal_to(
            [
                ("locked.pdf", None, "split", "encrypted_pdf"),
                ("notes.pdf", None, "split", "unsupported_format"),
            ]
        ),
        label="bad documents become typed dead letters",
    )
    result = pipeline.run()
    result.wait_until_finish()
    # In-memory runner: one process, so exactly one model load for all pages.
    assert _counter(result, "model_loads") == 1
    assert _counter(result, "pages") == 3


def test_model_loads_once_per_worker_process(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        pdf = pdf_of_pages([SENTENCES[i : i + 1], SENTENCES[i + 1 : i + 2]])
        (folder / f"doc{i}.pdf").write_bytes(pdf)
    config = load_config(None, ["render.dpi=100", "ocr.batchSize=1"])
    options = PipelineOptions(
        direct_running_mode="multi_processing", direct_num_workers=2
    )
    pipeline = TestPipeline(runner="FnApiRunner", options=options)
    out = build_pipeline(pipeline, [str(folder)], None, config, cpu_threads=1)
    # One engine per worker process: pages are spread over the workers.
    assert "SplitPages/BreakFusion" in _step_names(pipeline)
    assert_that(
        out.pages | "Keys" >> beam.Map(_page_key),
        equal_to([(f"doc{i}.pdf", p, 2) for i in range(3) for p in range(2)]),
    )
    result = pipeline.run()
    result.wait_until_finish()
    loads = _counter(result, "model_loads")
    pages = _counter(result, "pages")
    assert pages == 6
    # Six pages in batches of one went through at most two worker processes,
    # each of which built the model once.
    assert 1 <= loads <= 2, loads


def test_fail_mode_propagates_errors(tmp_path):
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.7 truncated")
    config = load_config(None, ["onError=fail"])
    pipeline = TestPipeline(runner="FnApiRunner")
    build_pipeline(pipeline, [str(tmp_path)], None, config)
    with pytest.raises(Exception, match="pdfium|corrupt|SplitError"):
        pipeline.run().wait_until_finish()


def test_worker_processes_share_one_engine_pool(tmp_path):
    """engine_pool: the machine's engines serve both worker processes (pages go
    to whichever engine is free), they load while pages render, and no
    worker process builds an engine of its own."""
    import os

    from ocrbeam.local.pool import remove_shared_files, shared_dir

    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        pdf = pdf_of_pages([SENTENCES[i : i + 1], SENTENCES[i + 2 : i + 3]])
        (folder / f"doc{i}.pdf").write_bytes(pdf)
    config = load_config(None, ["render.dpi=100", "ocr.batchSize=2"])
    options = PipelineOptions(
        direct_running_mode="multi_processing", direct_num_workers=2
    )
    pipeline = TestPipeline(runner="FnApiRunner", options=options)
    out = build_pipeline(
        pipeline, [str(folder)], None, config, cpu_threads=1, engine_pool=2
    )
    assert out.engine_pool.tag
    # The engines are shared: pages are OCR'd in the stage that renders them.
    assert "SplitPages/BreakFusion" not in _step_names(pipeline)
    assert_that(out.pages, _text_matches_any_truth, label="known text")
    result = pipeline.run()
    result.wait_until_finish()
    assert _counter(result, "pages") == 6
    assert _counter(result, "model_loads") == 2  # the pool's two engines, once
    assert os.path.exists(os.path.join(shared_dir(), out.engine_pool.tag + ".lock"))
    remove_shared_files(out.engine_pool.tag)
    assert not any(
        name.startswith(out.engine_pool.tag) for name in os.listdir(shared_dir())
    )


def _step_names(pipeline) -> set[str]:
    transforms = pipeline.to_runner_api().components.transforms
    return {transform.unique_name for transform in transforms.values()}


def _text_matches_any_truth(rows):
    rows = list(rows)
    assert len(rows) == 6
    for row in rows:
        assert any(cer(s, row.text) < 0.05 for s in SENTENCES), row.text


def test_engine_pool_counts_a_load_that_ends_after_the_last_page():
    """A pool engine still loading when the last page is done was paid for:
    it is counted from the start, once, and a load that fails is not."""
    import threading

    from ocrbeam.local.pool import EnginePool

    release = threading.Event()

    class _Loaded:
        loads = 1

        def predict(self, png):
            return png

    def slow_then_loaded():
        release.wait(10)
        return _Loaded()

    pool = EnginePool(slow_then_loaded, 2)
    assert pool.take_new_loads() == 2  # both under way
    release.set()
    assert pool.predict(b"page") == b"page"
    assert pool.take_new_loads() == 0  # finishing is not a second load

    def failing():
        raise OSError("no model")

    broken = EnginePool(failing, 1)
    with pytest.raises(RuntimeError, match="no model"):
        broken.predict(b"page")
    assert broken.take_new_loads() == 0


def test_engine_pool_pages_stream_to_it_without_batches(tmp_path):
    """With the pool, one bundle thread feeds every engine: RunInference's
    batches would stop it rendering while each batch is OCR'd, and idle the
    engines at every batch's end.  The pages go to the pool one by one
    instead (``OcrOnEnginePool``); an engine of one's own keeps RunInference
    and the config's batch size."""
    from ocrbeam.transforms.handlers import PPOCRv5ModelHandler

    config = load_config(None, ["ocr.batchSize=4"])
    steps = {}
    for name, pool in (("pooled", 2), ("own", None)):
        pipeline = TestPipeline(runner="FnApiRunner")
        build_pipeline(pipeline, [str(tmp_path)], None, config, engine_pool=pool)
        steps[name] = _step_names(pipeline)
    assert "OcrPages/OcrOnEnginePool" in steps["pooled"]
    assert not any("RunInference" in step for step in steps["pooled"])
    assert "OcrPages/OcrOnEnginePool" not in steps["own"]
    assert "OcrPages/RunInference" in steps["own"]
    own = PPOCRv5ModelHandler(config.ocr, "h").batch_elements_kwargs()
    assert own == {"min_batch_size": 1, "max_batch_size": 4}


def test_engine_pool_close_stops_loaded_engines_and_late_loads():
    """``ocrbeam run`` closes the pool it created when the pipeline ends: the
    loaded engines stop, and one still loading stops as soon as it loads."""
    import threading

    from ocrbeam.local.pool import EnginePool

    release = threading.Event()
    closed = []

    class _Engine:
        loads = 1

        def __init__(self, name):
            self.name = name

        def predict(self, png):
            return png

        def close(self):
            closed.append(self.name)

    names = iter(["first", "late"])

    def factory():
        name = next(names)
        if name == "late":
            release.wait(10)
        return _Engine(name)

    pool = EnginePool(factory, 2)
    assert pool.predict(b"page") == b"page"  # served by the first engine
    assert pool.take_new_loads() == 2
    pool.close()
    assert closed == ["first"]
    release.set()
    for _ in range(100):
        if len(closed) == 2:
            break
        threading.Event().wait(0.05)
    assert closed == ["first", "late"]
    assert pool.take_new_loads() == 0  # closing takes back no load


@pytest.mark.parametrize(
    ("argv", "settings", "own", "expected"),
    [
        # The default: Beam in this process, a pool of one engine per core.
        ([], [], True, ("in_memory", 1, (1, 2))),
        (["--workers=1"], [], True, ("in_memory", 1, (2, 1))),
        # Pages that cannot be pooled: Beam's worker processes, one per core.
        ([], ["ocr.sharedEngines=false"], True, ("multi_processing", 2, (1, None))),
        (
            [],
            ["route=vl", "vl.backend=remote", "vl.remoteUrl=http://127.0.0.1:1"],
            True,
            ("multi_processing", 2, (1, None)),
        ),
        (
            [],
            ["ocr.backend=remote", "ocr.remoteUrl=http://127.0.0.1:1"],
            True,
            ("multi_processing", 2, (1, None)),
        ),
        # An explicit mode is the user's: worker processes sharing the pool.
        (
            ["--direct_running_mode", "multi_processing"],
            [],
            True,
            ("multi_processing", 2, (1, 2)),
        ),
        # A pipeline handed in (tests) builds no pool of its own.
        ([], [], False, ("multi_processing", 2, (1, None))),
        # Remote runners: no local threads or pool.
        (["--runner", "DataflowRunner"], [], True, (None, None, (None, None))),
    ],
)
def test_local_runs_use_every_core(monkeypatch, argv, settings, own, expected):
    from apache_beam.options.pipeline_options import DirectOptions

    from ocrbeam.local.plan import plan_run

    monkeypatch.setattr("os.cpu_count", lambda: 2)
    workers = 1 if "--workers=1" in argv else None  # ocrbeam's own option
    options = PipelineOptions([a for a in argv if a != "--workers=1"])
    plan = plan_run(options, workers, load_config(None, settings), own_pipeline=own)
    direct = options.view_as(DirectOptions)
    mode, processes, (threads, engines) = expected
    if mode is not None:
        assert direct.direct_running_mode == mode
        assert direct.direct_num_workers == processes
    assert (plan.threads, plan.engines) == (threads, engines)
