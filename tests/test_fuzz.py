"""Property: any mutation of real PDF bytes is split without crashing the
worker, and every page is accounted for exactly once (or the whole document
gets one dead letter)."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ocrbeam.transforms.config import RenderConfig, SourceConfig
from ocrbeam.transforms.pdf import _SplitDoFn
from ocrbeam.transforms.records import DocumentBlob, PageImage

from docs import DATA
from ocrbeam.local.progress import ProgressReporter

SEEDS = [
    (DATA / "minimal-document.pdf").read_bytes(),
    (DATA / "pdflatex-4-pages.pdf").read_bytes(),
    (DATA / "google-doc-document.pdf").read_bytes(),
]


@pytest.fixture(scope="module")
def splitter():
    # Isolated, as in production: a native crash must become a dead letter too.
    config = RenderConfig(dpi=20, isolate=True, page_timeout_s=30)
    fn = _SplitDoFn(config, SourceConfig(), "fuzz", False, ProgressReporter(None, "f"))
    fn.setup()
    yield fn
    fn.teardown()


@st.composite
def mutated_pdfs(draw):
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "splice"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[pos] ^= draw(st.integers(1, 255))
        elif op == "truncate":
            del data[pos:]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=64))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 512))]
        elif op == "splice":
            other = draw(st.sampled_from(SEEDS))
            start = draw(st.integers(0, len(other) - 1))
            data[pos:pos] = other[start : start + draw(st.integers(1, 2048))]
    return bytes(data)


@settings(
    max_examples=150,
    deadline=None,
    # The same 150 mutations every run: a failure in CI reproduces anywhere.
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=mutated_pdfs())
def test_mutated_pdfs_never_crash_and_are_fully_accounted(splitter, data):
    blob = DocumentBlob("fuzz", "mem://fuzz.pdf", len(data), data, [])
    outputs = list(splitter.process(blob))
    # Pages to OCR, and pages finished without OCR (blank): both are pages.
    pages = [o for o in outputs if isinstance(o, PageImage)]
    pages += [o.value for o in outputs if getattr(o, "tag", None) == "direct"]
    dead = [o.value for o in outputs if getattr(o, "tag", None) == "dead_letter"]
    doc_level = [d for d in dead if d.page_index is None]
    if doc_level:
        assert len(doc_level) == 1 and not pages and len(dead) == 1
        assert doc_level[0].error_type and doc_level[0].message
        return
    counts = {p.page_count for p in pages} | {d.page_count for d in dead}
    assert len(counts) == 1, counts
    (page_count,) = counts
    seen = sorted([p.page_index for p in pages] + [d.page_index for d in dead])
    assert seen == list(range(page_count))
