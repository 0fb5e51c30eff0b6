"""The default recogniser reads the words fp32 reads, on scanned-looking pages.

Pages from bench/scanned_pages.py's evaluation set (JPEG, noise, skew, small
print, a dense table, a monospaced listing; nothing was calibrated or tuned
on them): a later speed change to the defaults (another recogniser, narrower
lines, a cheaper orientation step) that costs words fails here, not silently
in a user's data lake.  bench/evaluate.py measures the whole set.
"""

import importlib.util
import sys
from pathlib import Path

import pytest
from ocrbeam.transforms.config import load_config
from ocrbeam.transforms.handlers import PPOCRv5ModelHandler
from ocrbeam.transforms.records import PageImage

from ocrbeam.text.quality import line_cer, word_f1

pytestmark = pytest.mark.model

#: Small print at 150 dpi, a table at 200, a listing at 150, prose at 300.
PAGES = ("small-print-150dpi-0", "table-200dpi-1", "listing-150dpi-0", "prose-300dpi-1")


def _scanned_pages_module():
    # bench/ is not a package of the installed library: load it by path.
    path = Path(__file__).resolve().parent.parent / "bench" / "scanned_pages.py"
    spec = importlib.util.spec_from_file_location("scanned_pages", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pages():
    return _scanned_pages_module().evaluation_pages(only=PAGES)


def _read(pages, overrides: list[str]) -> dict[str, str]:
    import io

    from PIL import Image

    config = load_config(None, ["ocr.isolate=false", *overrides]).ocr
    handler = PPOCRv5ModelHandler(config, "t", cpu_threads=2)
    engine = handler.load_model()
    texts = {}
    for page in pages:
        width, height = Image.open(io.BytesIO(page.jpeg)).size
        image = PageImage("d" * 64, page.name, 0, 1, width, height, page.jpeg)
        [row] = handler.run_inference([image], engine)
        texts[page.name] = row.text
    return texts


def test_the_evaluation_pages_are_the_ones_asked_for(pages):
    assert sorted(p.name for p in pages) == sorted(PAGES)
    assert {p.kind for p in pages} == {"small-print", "table", "listing", "prose"}
    table = next(p for p in pages if p.kind == "table")
    assert table.truth.startswith("Name Type Default Description\n")
    assert "VARCHAR(255)" in table.truth or "DECIMAL(15,2)" in table.truth
    assert all(p.jpeg[:3] == b"\xff\xd8\xff" for p in pages)


def test_the_default_recogniser_reads_the_words_fp32_reads(pages):
    default = _read(pages, [])
    fp32 = _read(pages, ["ocr.textRecognitionPrecision=fp32"])
    for page in pages:
        ours, reference = default[page.name], fp32[page.name]
        # fp32 itself reads these pages well: the comparison means something.
        assert word_f1(page.truth, reference) > 0.7, page.name
        assert word_f1(page.truth, ours) >= word_f1(page.truth, reference) - 0.002, (
            page.name
        )
        assert line_cer(page.truth, ours) <= line_cer(page.truth, reference) + 0.001, (
            page.name
        )
