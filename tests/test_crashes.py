"""Native processes that die: the renderer and the engine are SIGKILLed from
outside (as the OOM killer or a crash in native code would end them), while
they work and while they wait.  The page at hand becomes a typed dead letter,
the process is replaced, and the rest of the document goes on."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time

import pytest
from ocrbeam.transforms.config import RenderConfig, SourceConfig
from ocrbeam.transforms.pdf import _SplitDoFn
from ocrbeam.transforms.records import DocumentBlob, PageImage

from docs import DATA, SENTENCES, encode, text_image
from ocrbeam.engines.ppocrv5 import ENGINE_PROCESS_NAME
from ocrbeam.engines.render import RENDERER_PROCESS_NAME
from ocrbeam.local.progress import ProgressReporter


def _children(name: str) -> list[int]:
    return [p.pid for p in multiprocessing.active_children() if p.name == name]


def _kill_later(name: str, delay_s: float) -> threading.Thread:
    """SIGKILL this process's child of that name ``delay_s`` from now."""

    def kill():
        time.sleep(delay_s)
        for pid in _children(name):
            os.kill(pid, signal.SIGKILL)

    thread = threading.Thread(target=kill)
    thread.start()
    return thread


def _splitter(dpi: int) -> _SplitDoFn:
    config = RenderConfig(dpi=dpi, isolate=True, skip_blank_pages=False)
    fn = _SplitDoFn(config, SourceConfig(), "h", False, ProgressReporter(None, "t"))
    fn.setup()
    return fn


def _through_first_page(outputs) -> list:
    """The outputs up to and including the first page image."""
    taken = []
    for item in outputs:
        taken.append(item)
        if isinstance(item, PageImage):
            return taken
    raise AssertionError("no page came out")


def _outputs(items):
    pages = [o for o in items if isinstance(o, PageImage)]
    dead = [o.value for o in items if getattr(o, "tag", None) == "dead_letter"]
    return pages, dead


def test_renderer_killed_while_rendering_costs_that_page_only():
    data = (DATA / "pdflatex-4-pages.pdf").read_bytes()
    blob = DocumentBlob("d", "mem://four.pdf", len(data), data, [])
    fn = _splitter(dpi=600)  # seconds a page: the kill lands mid-render
    try:
        outputs = fn.process(blob)
        first = _through_first_page(outputs)
        killer = _kill_later(RENDERER_PROCESS_NAME, 0.3)
        pages, dead = _outputs([*first, *outputs])
        killer.join()
    finally:
        fn.teardown()
    assert [(d.page_index, d.error_type, d.stage) for d in dead] == [
        (1, "render_crashed", "split")
    ]
    assert "died" in dead[0].message and dead[0].page_count == 4
    assert [p.page_index for p in pages] == [0, 2, 3]  # reopened, went on


def test_renderer_that_died_between_pages_reopens_the_document():
    """The OOM killer does not wait for a call: a renderer killed while idle
    is replaced at the next page, which opens the document again."""
    data = (DATA / "pdflatex-4-pages.pdf").read_bytes()
    blob = DocumentBlob("d", "mem://four.pdf", len(data), data, [])
    fn = _splitter(dpi=50)
    try:
        outputs = fn.process(blob)
        first = _through_first_page(outputs)
        [pid] = _children(RENDERER_PROCESS_NAME)
        os.kill(pid, signal.SIGKILL)
        while pid in _children(RENDERER_PROCESS_NAME):  # until it is gone
            time.sleep(0.05)
        pages, dead = _outputs([*first, *outputs])
    finally:
        fn.teardown()
    assert dead == []
    assert [p.page_index for p in pages] == [0, 1, 2, 3]


@pytest.mark.model
def test_engine_killed_while_reading_a_page_is_ocr_crashed_and_replaced():
    from ocrbeam.transforms.config import PPOCRv5Config
    from ocrbeam.transforms.handlers import PPOCRv5ModelHandler
    from ocrbeam.transforms.records import DeadLetter, PageResult

    def page(lines, index):
        img = text_image(lines)
        png = encode(img)
        return PageImage("d", "mem://x.png", index, 2, img.width, img.height, png)

    handler = PPOCRv5ModelHandler(PPOCRv5Config(), "h", cpu_threads=1)
    engine = handler.load_model()
    try:
        killer = _kill_later(ENGINE_PROCESS_NAME, 1.0)
        # A dense page: many seconds on one thread, so the kill lands mid-page.
        [dead] = handler.run_inference([page(SENTENCES * 20, 0)], engine)
        killer.join()
        assert isinstance(dead, DeadLetter)
        assert (dead.stage, dead.error_type, dead.page_index) == (
            "ocr",
            "ocr_crashed",
            0,
        )
        assert "SIGKILL" in dead.message
        [row] = handler.run_inference([page(SENTENCES[:1], 1)], engine)
        assert isinstance(row, PageResult) and "Invoice" in row.text
        assert engine.loads == 2  # the killed engine process was replaced once
    finally:
        engine.close()
