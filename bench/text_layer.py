"""Text-layer route vs OCR on born-digital PDFs: same text, time per page.

For every page of the real born-digital PDFs in tests/data, in one process:
the text-layer route (pypdfium2 text rects -> ocrbeam reading order), and
OCR (render + PP-OCRv5, one thread), each checked against the text that
pypdfium2 extracts for the page.

    python bench/text_layer.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import DATA, PDFS, emit  # noqa: E402


def main() -> None:
    import pypdfium2 as pdfium
    from ocrbeam.transforms.config import RenderConfig, load_config

    from ocrbeam.engines.ppocrv5 import EngineServer, EngineSettings
    from ocrbeam.engines.render import PageRenderer
    from ocrbeam.text.quality import cer

    cfg = load_config(None, ["ocr.isolate=false"])
    server = EngineServer(EngineSettings.from_config(cfg.ocr, threads=1))
    from ocrbeam.transforms.convert import text_layer_result
    from ocrbeam.transforms.records import PageImage

    from ocrbeam.text.lines import lines_from_result
    from ocrbeam.text.order import reading_order

    renderer = PageRenderer(RenderConfig(dpi=150))
    text_s = ocr_s = 0.0
    text_cer, ocr_cer, pages = [], [], 0
    for name in PDFS:
        data = (DATA / name).read_bytes()
        truth_pdf = pdfium.PdfDocument(data)
        count = renderer.open(data, "pdf")
        for index in range(count):
            truth = truth_pdf[index].get_textpage().get_text_range()
            start = time.perf_counter()
            layer = renderer.text_layer(index)
            lines, width, height = layer.lines, layer.width, layer.height
            page = PageImage("b", name, index, count, width, height, b"")
            row = text_layer_result(page, lines, config_hash="b", elapsed_ms=0)
            text_s += time.perf_counter() - start
            start = time.perf_counter()
            png, _w, _h, _blank = renderer.render(index)
            out = server.ocr(png)
            found = lines_from_result(out.result)
            ocr_text = "\n".join(
                found[i].text for i in reading_order(found, out.height)
            )
            ocr_s += time.perf_counter() - start
            text_cer.append(cer(truth, row.text))
            ocr_cer.append(cer(truth, ocr_text))
            pages += 1
        renderer.close_document()
    speedup = ocr_s / text_s
    print(
        f"{pages} pages: text layer {text_s / pages * 1000:.1f} ms/page "
        f"(CER vs pypdfium2 text {sum(text_cer) / pages:.4f}); OCR "
        f"{ocr_s / pages * 1000:.0f} ms/page (CER {sum(ocr_cer) / pages:.4f}); "
        f"text layer {speedup:.0f}x faster"
    )
    emit(
        {
            "bench": "text_layer",
            "pages": pages,
            "text_layer_ms_per_page": round(text_s / pages * 1000, 2),
            "ocr_ms_per_page": round(ocr_s / pages * 1000, 1),
            "text_layer_cer": round(sum(text_cer) / pages, 4),
            "ocr_cer": round(sum(ocr_cer) / pages, 4),
            "speedup": round(speedup, 1),
        }
    )


if __name__ == "__main__":
    main()
