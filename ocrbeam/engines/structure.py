"""Document structure in the engine process: layout regions and table
structure for a page PP-OCRv5 has read (``route: structure``).

The page is read once by PP-OCRv5, as on the ``ocr`` route; this adds the
layout model's regions (``layout_det_res``, PaddleOCR's shape) and, for each
table region, SLANet-plus's structure tokens and cell boxes
(``table_res_list``).  Matching the OCR'd lines to regions and cells is done
on the worker side (:mod:`ocrbeam.text.structure`), from these plain values.

Pre- and post-processing are the libraries' own: rapid-layout's PicoDet
resize, decode and per-class NMS; rapid-table's SLANet resize, padding and
token/box decoding.  Both run on onnxruntime with the engine's threads.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

#: CDLA's classes as PaddleOCR names them, in the model's order.
CDLA_LABELS = (
    "text", "title", "figure", "figure_caption", "table", "table_caption",
    "header", "footer", "reference", "equation",
)  # fmt: skip


class StructureSettings(NamedTuple):
    """What the structure models run with (picklable: crosses to engines)."""

    layout_threshold: float = 0.5
    layout_nms_threshold: float = 0.5
    tables: bool = True


def _onnx_threads(threads: int) -> dict[str, Any]:
    return {"intra_op_num_threads": threads, "inter_op_num_threads": 1}


class StructureModels:
    """The layout and table-structure models, loaded once per engine."""

    def __init__(self, settings: StructureSettings, threads: int):
        # rapid-layout and rapid-table log every load at INFO in colour on
        # their own handlers: keep that out of the run's output.
        previous = logging.root.manager.disable
        logging.disable(logging.INFO)
        try:
            self._load(settings, threads)
        finally:
            logging.disable(previous)
        for name in list(logging.root.manager.loggerDict):
            if name.startswith(
                ("rapid_layout", "rapid_table", "RapidTable", "RapidLayout")
            ):
                logging.getLogger(name).setLevel(logging.WARNING)

    def _load(self, settings: StructureSettings, threads: int) -> None:
        from rapid_layout import RapidLayout

        from ocrbeam.models.structure import layout_model_path, table_model_path

        self._layout = RapidLayout(
            model_type="pp_layout_cdla",
            model_dir_or_path=str(layout_model_path()),
            engine_cfg=_onnx_threads(threads),
            conf_thresh=settings.layout_threshold,
            iou_thresh=settings.layout_nms_threshold,
        )
        self._table = None
        if settings.tables:
            from rapid_table import ModelType, RapidTableInput
            from rapid_table.table_structure.pp_structure import PPTableStructurer

            cfg = RapidTableInput(
                model_type=ModelType.SLANETPLUS,
                model_dir_or_path=str(table_model_path()),
                engine_cfg=_onnx_threads(threads),
                use_ocr=False,
            )
            self._table = PPTableStructurer(dataclasses.asdict(cfg))

    def regions(self, image) -> list[dict[str, Any]]:
        """Layout regions of a BGR page: ``{cls_id, label, score, coordinate}``."""
        out = self._layout(image)
        regions = []
        for box, score, name in zip(
            out.boxes or [], out.scores or [], out.class_names or [], strict=False
        ):
            label = str(name)
            regions.append(
                {
                    "cls_id": CDLA_LABELS.index(label) if label in CDLA_LABELS else -1,
                    "label": label,
                    "score": round(float(score), 4),
                    "coordinate": [round(float(v), 1) for v in box],
                }
            )
        return regions

    def table(self, image, box: list[float]) -> dict[str, Any]:
        """SLANet-plus on one table region: structure tokens and cell boxes
        (``[x1, y1, x2, y2]`` in page pixels).

        The region is cut out as the layout model drew it, with no margin, as
        PaddleX's table pipeline crops: SLANet-plus is sensitive to the white
        around a table (on the generated test page a margin of 6 or 12 px lost
        a spanning cell that 0 and 3 px found)."""
        from .typography import clip_box

        x1, y1, x2, y2 = clip_box(image, box)
        crop = image[y1:y2, x1:x2].copy()
        structures, cell_boxes = self._table([crop])
        tokens, score = structures[0]
        cells = []
        for cell in cell_boxes[0]:
            xs, ys = cell[0::2], cell[1::2]
            cells.append(
                [
                    round(float(min(xs)) + x1, 1),
                    round(float(min(ys)) + y1, 1),
                    round(float(max(xs)) + x1, 1),
                    round(float(max(ys)) + y1, 1),
                ]
            )
        return {
            "block_bbox": [round(float(v), 1) for v in box],
            "structure": list(tokens),
            "structure_score": round(float(score), 4),
            "cell_box_list": cells,
        }

    def analyse(self, image, ocr: Mapping[str, Any]) -> dict[str, Any]:
        """The page's ``layout_det_res`` and ``table_res_list``, with what
        the image says about the OCR'd lines (``ocr``: the page's OCR
        result): ``rec_styles``, each line's x-height, stroke weight and
        tone, and on each figure region its ``text_share``
        (:mod:`.typography`).

        Runs of lines aligned in columns that no table region covers
        (:func:`ocrbeam.text.tables.table_candidates`) are table regions
        too (``"source": "lines"``, score 0): the table model reads them
        whatever the layout model called them."""
        from ocrbeam.text.lines import lines_from_result
        from ocrbeam.text.regions import FIGURE_TEXT_SHARE
        from ocrbeam.text.tables import table_candidates

        from . import typography

        page = typography.gray(image)
        line_boxes = ocr.get("rec_boxes") or []
        regions = self.regions(image)
        ruled = []
        for region in regions:
            if region["label"] == "figure":
                region["text_share"] = typography.text_share(
                    page, region["coordinate"], line_boxes
                )
                # A "figure" of words between rules is a table the layout
                # model did not see.
                if region["text_share"] >= FIGURE_TEXT_SHARE:
                    box = typography.ruled_table(page, region["coordinate"])
                    if box is not None:
                        ruled.append(_table_region(box, "rules"))
        regions.extend(ruled)
        tables = [r["coordinate"] for r in regions if r["label"] == "table"]
        texts = [
            r["coordinate"] for r in regions if r["label"] in ("text", "reference")
        ]
        found = table_candidates(lines_from_result(ocr), image.shape[1], tables, texts)
        for box in found:
            if not any(_covered(box, t) for t in tables):
                regions.append(_table_region(box, "lines"))
        table_res = []
        if self._table is not None:
            table_res = [
                self.table(image, region["coordinate"])
                for region in regions
                if region["label"] == "table"
            ]
        return {
            "layout_det_res": {"boxes": regions},
            "table_res_list": table_res,
            "rec_styles": [list(v) for v in typography.line_styles(page, line_boxes)],
        }


def _table_region(box: Sequence[float], source: str) -> dict[str, Any]:
    """A table region the layout model did not give (score 0), and what
    found it (``lines``: aligned columns; ``rules``: rules in a figure)."""
    return {
        "cls_id": CDLA_LABELS.index("table"),
        "label": "table",
        "score": 0.0,
        "coordinate": [round(float(v), 1) for v in box],
        "source": source,
    }


def _covered(box: Sequence[float], table: Sequence[float]) -> bool:
    """Half or more of ``box`` lies inside ``table``."""
    w = min(box[2], table[2]) - max(box[0], table[0])
    h = min(box[3], table[3]) - max(box[1], table[1])
    area = max(1.0, (box[2] - box[0]) * (box[3] - box[1]))
    return w > 0 and h > 0 and w * h >= 0.5 * area
