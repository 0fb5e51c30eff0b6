"""OcrPages on a shared engine pool (``_PooledInference``): pages stream to the
pool and come back as they finish; every page is accounted for, in its own
window, counted in the handler's metrics, and a failure is a dead letter (or,
with fail_fast, the run's failure).

The engines here are stand-ins that take a few milliseconds per page: what is
tested is the DoFn's bookkeeping, which does not depend on the model (the
real pool with the real models runs in test_pipeline.py)."""

import threading
import time

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms import window
from ocrbeam.transforms.convert import to_page_result
from ocrbeam.transforms.handlers import PageModelHandler
from ocrbeam.transforms.ocr import ENGINE_POOL, OcrPages
from ocrbeam.transforms.records import PageImage

from ocrbeam.local.pool import PooledEngine

pytestmark = pytest.mark.pipeline

_BOX = [[0, 0], [40, 0], [40, 10], [0, 10]]


class _Pool:
    """Two engines' worth of pages at once, each page a few milliseconds."""

    def __init__(self):
        self.running = 0
        self.most_running = 0
        self.threads = set()
        self._lock = threading.Lock()

    def predict(self, png: bytes) -> dict:
        with self._lock:
            self.running += 1
            self.most_running = max(self.most_running, self.running)
            self.threads.add(threading.get_ident())
        time.sleep(0.005 * (1 + len(png) % 3))  # pages finish out of order
        with self._lock:
            self.running -= 1
        if png.startswith(b"bad"):
            raise ValueError("unreadable page")
        return {"rec_texts": [png.decode()], "rec_scores": [0.99], "rec_polys": [_BOX]}

    def take_new_loads(self) -> int:
        return 0


_POOLS: dict = {}  # by handler tag: the DoFn runs on a copy of the handler


class _PoolHandler(PageModelHandler):
    namespace = "ocrbeam.test"
    model_name = "stand-in"

    def __init__(self, fail_fast=False):
        super().__init__(None, "h", fail_fast)
        self.pool_tag = f"test-pool-{id(self)}"
        _POOLS[self.pool_tag] = _Pool()

    def load_model(self):
        self._pending_load_ms = 0.0
        return PooledEngine(_POOLS[self.pool_tag], 2)

    def _process_page(self, page, model):
        result = model.predict(page.image)
        return to_page_result(
            page,
            result,
            engine="test",
            model="stand-in",
            elapsed_ms=1.0,
            config_hash="h",
        )


def _page(i: int, text: str = "") -> PageImage:
    body = (text or f"page {i}").encode()
    return PageImage(f"d{i}", f"file:///in/{i}.png", 0, 1, 40, 10, body)


def _counter(result, name):
    query = MetricsFilter().with_namespace("ocrbeam.test").with_name(name)
    found = result.metrics().query(query)["counters"]
    return sum(c.committed or c.attempted or 0 for c in found)


def test_pages_stream_to_the_pool_and_each_keeps_its_window():
    handler = _PoolHandler()
    pages = [_page(i) for i in range(40)] + [_page(40, "bad page")]
    pipeline = TestPipeline(runner="FnApiRunner")
    stamped = (
        pipeline
        | beam.Create(list(enumerate(pages)))
        | "Stamp"
        >> beam.Map(lambda item: window.TimestampedValue(item[1], item[0] * 10))
        | "Windows" >> beam.WindowInto(window.FixedWindows(100))
    )
    results, dead, _files = stamped | OcrPages(handler, "h", inference=ENGINE_POOL)
    assert_that(
        results | "Texts" >> beam.Map(lambda r: r.text),
        equal_to([f"page {i}" for i in range(40)]),
        label="every good page once",
    )
    # Pages 0-9 lie in window [0, 100), 10-19 in [100, 200) ...: a page that
    # came back late still carries its own window, not another page's.
    assert_that(
        results
        | "WindowOf" >> beam.Map(lambda r, w=beam.DoFn.WindowParam: (r.text, w.start))
        | "Global" >> beam.WindowInto(window.GlobalWindows())
        | "Right" >> beam.Map(lambda t: int(t[0].split()[1]) // 10 * 100 == t[1])
        | beam.combiners.Count.PerElement(),
        equal_to([(True, 40)]),
        label="each page in its own window",
    )
    assert_that(
        dead | "DeadKeys" >> beam.Map(lambda d: (d.source_uri, d.error_type, d.stage)),
        equal_to([("file:///in/40.png", "ocr_failed", "ocr")]),
        label="the failed page is a dead letter",
    )
    result = pipeline.run()
    result.wait_until_finish()
    pool = _POOLS[handler.pool_tag]
    assert pool.most_running >= 2  # both engines busy at once
    assert pool.most_running <= 4  # at most two pages per engine in flight
    # Metrics are counted on the bundle's thread (others' updates are lost).
    assert _counter(result, "pages") == 40
    assert _counter(result, "failed_pages") == 1


def test_fail_fast_fails_the_run_on_a_bad_page():
    handler = _PoolHandler(fail_fast=True)
    pipeline = TestPipeline(runner="FnApiRunner")
    pages = pipeline | beam.Create([_page(0), _page(1, "bad page"), _page(2)])
    _ = pages | OcrPages(handler, "h", fail_fast=True, inference=ENGINE_POOL)
    with pytest.raises(Exception, match="unreadable page"):
        pipeline.run().wait_until_finish()
