"""The PaddleOCR-VL section (``vl``, route vl): the ``POST /layout-parsing``
request parameters of the PaddleOCR service, and where the models come from."""

from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import Field, model_validator
from pydantic.alias_generators import to_camel

from .base import refuse_unused, roles
from .remote import REMOTE_FIELDS, RemoteSettings

#: A ``/layout-parsing`` parameter the local engine takes per call.
_REQUEST_PREDICT = roles("request", "predict")
#: A ``/layout-parsing`` parameter PaddleOCRVL also takes when it is built.
_EVERYWHERE = roles("request", "predict", "pipeline")
#: Where the models come from: settings of the engine in the worker.
_PIPELINE_ONLY = (
    "device",
    "pipeline_version",
    "layout_detection_model_name",
    "layout_detection_model_dir",
    "vl_rec_model_name",
    "vl_rec_model_dir",
    "vl_rec_server_url",
    "vl_rec_max_concurrency",
    "vl_rec_api_model_name",
    "vl_rec_api_key",
    "doc_orientation_classify_model_dir",
    "doc_unwarping_model_dir",
)
#: Settings of a VLM server backend.
_SERVER = (
    "vl_rec_server_url",
    "vl_rec_max_concurrency",
    "vl_rec_api_model_name",
    "vl_rec_api_key",
)


#: The layout and VL models each PaddleOCRVL pipeline version loads (PaddleX
#: 3.7's pipeline configs PaddleOCR-VL, -1.5 and -1.6).
PIPELINE_MODELS = {
    "v1": ("PP-DocLayoutV2", "PaddleOCR-VL-0.9B"),
    "v1.5": ("PP-DocLayoutV3", "PaddleOCR-VL-1.5-0.9B"),
    "v1.6": ("PP-DocLayoutV3", "PaddleOCR-VL-1.6-0.9B"),
}


class PaddleOCRVLConfig(RemoteSettings):
    """PaddleOCR-VL document parsing (``route: vl``): the service's
    ``POST /layout-parsing`` parameters, plus where the models come from.

    ``backend`` native runs PaddleOCRVL in the worker (layout detection and the
    0.9B VLM, on the worker's GPU when ``device`` says so); vllm-server and
    sglang-server keep layout detection in the worker and send regions to a
    VLM server at ``vlRecServerUrl``; remote sends each page to a PaddleOCR /
    PaddleX ``/layout-parsing`` service at ``remoteUrl``.  Request parameters
    left null take PaddleOCR's defaults.
    """

    backend: Literal["native", "vllm-server", "sglang-server", "remote"] = Field(
        "native",
        description="native (PaddleOCRVL in the worker), vllm-server / "
        "sglang-server (VLM served at vlRecServerUrl), or remote "
        "(POST /layout-parsing at remoteUrl).",
    )
    device: str = Field(
        "cpu",
        description="'cpu', or 'gpu' / 'gpu:N'.",
        json_schema_extra=roles("pipeline"),
    )
    pipeline_version: Literal["v1", "v1.5", "v1.6"] = Field(
        "v1",
        description="PaddleOCRVL pipeline version, which names the models it "
        "loads: v1 PP-DocLayoutV2 + PaddleOCR-VL-0.9B (layout threshold 0.5); "
        "v1.5 and v1.6 PP-DocLayoutV3 + PaddleOCR-VL-1.5-0.9B / -1.6-0.9B "
        "(layout threshold 0.3). paddleocr 3.7's own default is v1.6.",
        json_schema_extra=roles("pipeline"),
    )
    layout_detection_model_name: Optional[str] = Field(
        None,
        description="Layout model name; null: the pipeline version's "
        "(PP-DocLayoutV2 for v1). Checked against layoutDetectionModelDir's "
        "inference.yml.",
        json_schema_extra=roles("pipeline"),
    )
    layout_detection_model_dir: Optional[str] = Field(
        None,
        description="Layout detection model directory (needed unless "
        "backend=remote: ocrbeam never downloads weights).",
        json_schema_extra=roles("pipeline"),
    )
    vl_rec_model_name: Optional[str] = Field(
        None,
        description="VL recognition model name; null: the pipeline version's "
        "(PaddleOCR-VL-0.9B for v1). Checked against vlRecModelDir's inference.yml.",
        json_schema_extra=roles("pipeline"),
    )
    vl_rec_model_dir: Optional[str] = Field(
        None,
        description="VL recognition model directory (backend=native).",
        json_schema_extra=roles("pipeline"),
    )
    vl_rec_server_url: Optional[str] = Field(
        None,
        description="vllm-server / sglang-server: the VLM server's URL "
        "(e.g. http://vlm:8118/v1).",
        json_schema_extra=roles("pipeline"),
    )
    vl_rec_max_concurrency: Optional[int] = Field(
        None,
        gt=0,
        description="Concurrent requests to the VLM server.",
        json_schema_extra=roles("pipeline", "operational"),
    )
    vl_rec_api_model_name: Optional[str] = Field(
        None,
        description="Model name the VLM server serves.",
        json_schema_extra=roles("pipeline"),
    )
    vl_rec_api_key: Optional[str] = Field(
        None,
        description="API key of the VLM server (better: in the URL's secret store).",
        json_schema_extra=roles("pipeline"),
    )
    doc_orientation_classify_model_dir: Optional[str] = Field(
        None,
        description="Document orientation model directory.",
        json_schema_extra=roles("pipeline"),
    )
    doc_unwarping_model_dir: Optional[str] = Field(
        None,
        description="Document unwarping (UVDoc) model directory.",
        json_schema_extra=roles("pipeline"),
    )
    # -- /layout-parsing request parameters (SPEC.md) -------------------------
    use_doc_orientation_classify: Optional[bool] = Field(
        None,
        description="Detect and undo 0/90/180/270 page rotation.",
        json_schema_extra=_EVERYWHERE,
    )
    use_doc_unwarping: Optional[bool] = Field(
        None, description="Correct curled pages.", json_schema_extra=_EVERYWHERE
    )
    use_layout_detection: Optional[bool] = Field(
        None,
        description="Detect and order regions; when false, promptLabel says "
        "what the whole page is.",
        json_schema_extra=_EVERYWHERE,
    )
    use_chart_recognition: Optional[bool] = Field(
        None, description="Turn charts into tables.", json_schema_extra=_EVERYWHERE
    )
    layout_threshold: Optional[Union[float, dict[int, float]]] = Field(
        None,
        description="Layout score threshold 0..1, or per class id.",
        json_schema_extra=_REQUEST_PREDICT,
    )
    layout_nms: Optional[bool] = Field(
        None,
        description="Drop heavily overlapping layout boxes.",
        json_schema_extra=_REQUEST_PREDICT,
    )
    layout_unclip_ratio: Optional[float] = Field(
        None,
        gt=0,
        description="Expand layout boxes (default 1.0).",
        json_schema_extra=_REQUEST_PREDICT,
    )
    layout_merge_bboxes_mode: Optional[Literal["large", "small", "union"]] = Field(
        None,
        description="Nested boxes: keep the large, the small, or both.",
        json_schema_extra=_REQUEST_PREDICT,
    )
    prompt_label: Optional[Literal["ocr", "formula", "table", "chart"]] = Field(
        None,
        description="What the page is (only with useLayoutDetection=false).",
        json_schema_extra=_REQUEST_PREDICT,
    )
    repetition_penalty: Optional[float] = Field(
        None,
        ge=1.0,
        le=2.0,
        description="VLM repetition penalty [1, 2].",
        json_schema_extra=_REQUEST_PREDICT,
    )
    temperature: Optional[float] = Field(
        None,
        ge=0.0,
        le=2.0,
        description="VLM sampling temperature [0, 2].",
        json_schema_extra=_REQUEST_PREDICT,
    )
    top_p: Optional[float] = Field(
        None,
        gt=0.0,
        le=1.0,
        description="VLM nucleus sampling (0, 1].",
        json_schema_extra=_REQUEST_PREDICT,
    )
    min_pixels: Optional[int] = Field(
        None,
        gt=0,
        description="Dynamic-resolution lower bound (default 147384).",
        json_schema_extra=_REQUEST_PREDICT,
    )
    max_pixels: Optional[int] = Field(
        None,
        gt=0,
        description="Dynamic-resolution upper bound (default 2822400).",
        json_schema_extra=_REQUEST_PREDICT,
    )
    # The two markdown switches are request parameters; locally they apply to
    # the markdown step, not to predict.
    prettify_markdown: bool = Field(
        True,
        description="Markdown with HTML tables and centred titles.",
        json_schema_extra=roles("request"),
    )
    show_formula_number: bool = Field(
        False,
        description="Keep formula numbers in the markdown.",
        json_schema_extra=roles("request"),
    )
    visualize: bool = Field(
        False,
        description="Also write each page with its layout blocks and reading "
        "order drawn (JPEG) under visualize/ in the output.",
    )
    # -- degenerate-output guard ---------------------------------------------
    repetition_min_repeats: int = Field(
        8,
        ge=2,
        description="A phrase repeated this many more times in a row is a VLM "
        "loop: the block is cut after its first occurrence and flagged.",
    )
    max_block_chars: int = Field(
        20_000, gt=0, description="Blocks longer than this are cut and flagged."
    )
    # -- operation -------------------------------------------------------------
    batch_size: int = Field(
        1,
        gt=0,
        description="Pages per RunInference batch.",
        json_schema_extra=roles("operational"),
    )
    share_across_processes: Optional[bool] = Field(
        None,
        description="One model per machine shared by the worker processes "
        "(Beam's multi-process sharing) instead of one per process. null: on "
        "for backend=native on a GPU, where one copy per GPU is how the model "
        "is best served.",
        json_schema_extra=roles("operational"),
    )
    model_copies: int = Field(
        1,
        gt=0,
        description="Copies of a shared model per machine (one per GPU).",
        json_schema_extra=roles("operational"),
    )

    @model_validator(mode="after")
    def _check(self) -> PaddleOCRVLConfig:
        if self.backend == "remote":
            if not self.remote_url:
                raise ValueError("backend=remote needs remoteUrl")
            refuse_unused(
                self,
                (*_PIPELINE_ONLY, "share_across_processes", "model_copies"),
                "with backend=remote: the service holds the models",
            )
            return self
        refuse_unused(self, REMOTE_FIELDS, "unless backend=remote")
        servers = ("vllm-server", "sglang-server")
        if self.backend in servers and not self.vl_rec_server_url:
            raise ValueError(f"backend={self.backend} needs vlRecServerUrl")
        if self.backend not in servers:
            refuse_unused(
                self, _SERVER, "unless backend is vllm-server or sglang-server"
            )
        else:
            refuse_unused(self, ("vl_rec_model_dir",), f"with backend={self.backend}")
        if self.prompt_label and self.use_layout_detection is not False:
            raise ValueError("promptLabel only applies with useLayoutDetection=false")
        return self

    def model_names(self) -> dict[str, str]:
        """``{name field: model name}`` of the layout and VL models this
        config loads: the configured names, else the pipeline version's."""
        layout, vl_rec = PIPELINE_MODELS[self.pipeline_version]
        return {
            "layout_detection_model_name": self.layout_detection_model_name or layout,
            "vl_rec_model_name": self.vl_rec_model_name or vl_rec,
        }

    def missing_model_dirs(self) -> list[str]:
        """The model directory settings this backend needs and lacks."""
        if self.backend == "remote":
            return []
        needed = []
        if self.use_layout_detection is not False:
            needed.append("layout_detection_model_dir")
        if self.backend == "native":
            needed.append("vl_rec_model_dir")
        if self.use_doc_orientation_classify:
            needed.append("doc_orientation_classify_model_dir")
        if self.use_doc_unwarping:
            needed.append("doc_unwarping_model_dir")
        return [to_camel(n) for n in needed if not getattr(self, n)]
