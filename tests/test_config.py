from pathlib import Path

import pytest
from ocrbeam.transforms.config import ConfigError, PipelineConfig, load_config

CONFIGS = sorted((Path(__file__).parent.parent / "configs").glob("*.yaml"))


def test_defaults_match_the_service_defaults():
    cfg = load_config(None)
    assert cfg.ocr.text_det_limit_side_len == 64
    assert cfg.ocr.text_det_limit_type == "min"
    assert cfg.ocr.text_det_thresh == 0.3
    assert cfg.ocr.text_det_box_thresh == 0.6
    assert cfg.ocr.text_det_unclip_ratio == 1.5
    assert cfg.ocr.text_rec_score_thresh == 0.0
    assert cfg.ocr.backend == "onnxruntime"
    assert cfg.render.dpi == 150
    assert cfg.render.max_pages is None


@pytest.mark.parametrize(
    "key",
    [
        "ocr.textDetThresh=0.45",
        "ocr.text_det_thresh=0.45",
    ],
)
def test_camel_and_snake_case_are_the_same_field(key):
    assert load_config(None, [key]).ocr.text_det_thresh == 0.45


def test_every_service_parameter_is_accepted_in_camel_case(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        """
ocr:
  useDocOrientationClassify: false
  useDocUnwarping: false
  useTextlineOrientation: false
  textDetLimitSideLen: 960
  textDetLimitType: max
  textDetThresh: 0.35
  textDetBoxThresh: 0.55
  textDetUnclipRatio: 1.6
  textRecScoreThresh: 0.2
  visualize: false
"""
    )
    ocr = load_config(str(path)).ocr
    assert (ocr.text_det_limit_side_len, ocr.text_det_limit_type) == (960, "max")
    assert ocr.text_det_unclip_ratio == 1.6 and ocr.text_rec_score_thresh == 0.2


def test_every_layout_parsing_parameter_is_accepted(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        """
route: vl
vl:
  backend: vllm-server
  layoutDetectionModelDir: /models/PP-DocLayoutV2
  vlRecServerUrl: http://vlm:8118/v1
  useDocOrientationClassify: false
  useDocUnwarping: false
  useLayoutDetection: true
  useChartRecognition: true
  layoutThreshold: {0: 0.4, 2: 0.6}
  layoutNms: true
  layoutUnclipRatio: 1.1
  layoutMergeBboxesMode: union
  repetitionPenalty: 1.05
  temperature: 0.1
  topP: 0.9
  minPixels: 200000
  maxPixels: 2000000
  prettifyMarkdown: false
  showFormulaNumber: true
  visualize: true
"""
    )
    vl = load_config(str(path)).vl
    assert vl.layout_threshold == {0: 0.4, 2: 0.6}
    assert (vl.top_p, vl.min_pixels, vl.layout_merge_bboxes_mode) == (
        0.9,
        200000,
        "union",
    )
    snake = load_config(
        None,
        [
            "route=vl",
            "vl.backend=remote",
            "vl.remote_url=http://svc",
            "vl.repetition_penalty=1.2",
            "vl.prompt_label=formula",
            "vl.use_layout_detection=false",
        ],
    ).vl
    assert (snake.repetition_penalty, snake.prompt_label) == (1.2, "formula")


def test_unknown_key_is_named(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("ocr:\n  textDetTresh: 0.4\n")
    with pytest.raises(ConfigError, match=r"ocr\.textDetTresh: unknown key"):
        load_config(str(path))


def test_unknown_section_is_named():
    with pytest.raises(ConfigError, match=r"renderer: unknown key"):
        load_config(None, ["renderer.dpi=100"])


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("ocr.textDetLimitType=avg", "ocr.textDetLimitType"),
        ("ocr.textDetThresh=-1", "ocr.textDetThresh"),
        ("ocr.textRecognitionWidthScale=0.2", "ocr.textRecognitionWidthScale"),
        ("ocr.textRecognitionWidthScale=1.5", "less than or equal to 1"),
        ("render.dpi=0", "render.dpi"),
        ("ocr.useDocUnwarping=true", "needs its model directory"),
        ("ocr.lang=korean", "set textRecognitionModelDir"),
        ("route=vl", "needs vl.layoutDetectionModelDir, vl.vlRecModelDir"),
        ("vl.backend=vllm-server", "needs vlRecServerUrl"),
        ("vl.backend=remote", "needs remoteUrl"),
        ("vl.topP=1.5", "less than or equal to 1"),
        ("vl.layoutMergeBboxesMode=biggest", "'large', 'small' or 'union'"),
        ("vl.promptLabel=table", "only applies with useLayoutDetection=false"),
    ],
)
def test_invalid_values_give_one_readable_message(override, fragment):
    with pytest.raises(ConfigError) as err:
        load_config(None, [override])
    assert fragment in str(err.value)
    assert "Traceback" not in str(err.value)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(str(tmp_path / "nope.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("ocr: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(str(bad))
    with pytest.raises(ConfigError, match="key=value"):
        load_config(None, ["render.dpi"])


def test_config_is_frozen():
    cfg = load_config(None)
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        cfg.render.dpi = 10  # type: ignore[misc]


def test_fingerprint_changes_with_results_relevant_settings_only():
    base = load_config(None)
    assert base.fingerprint() == load_config(None).fingerprint()
    assert base.fingerprint() != load_config(None, ["render.dpi=200"]).fingerprint()
    assert base.fingerprint() == load_config(None, ["sink.jsonl=true"]).fingerprint()


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_configs_load(path):
    assert isinstance(load_config(str(path)), PipelineConfig)


def test_shipped_configs_exist():
    names = {p.name for p in CONFIGS}
    assert {"cpu.yaml", "cpu-int8.yaml", "gpu-ppocrv5.yaml", "vl-vllm.yaml",
            "vl-remote.yaml"} <= names  # fmt: skip


def test_cpu_yaml_is_the_default_and_cpu_int8_the_speed_profile():
    configs = Path(__file__).parent.parent / "configs"
    default = load_config(None)
    assert load_config(str(configs / "cpu.yaml")) == default
    profile = load_config(str(configs / "cpu-int8.yaml"))
    assert profile.ocr.text_recognition_precision == "int8"
    assert profile == load_config(None, ["ocr.textRecognitionPrecision=int8"])


@pytest.mark.parametrize(
    ("overrides", "fingerprint"),
    [
        # Values of ocrbeam 0.1.0 at fb934c9, whose defaults were the int8
        # recogniser and route ocr: outputs written then must still be
        # recognised by reruns with those settings (the fingerprint is every
        # row's config_hash).
        (["ocr.textRecognitionPrecision=int8", "route=ocr"], "35eabc1e84294aa6"),
        (
            ["ocr.backend=paddle", "ocr.textRecognitionPrecision=int8", "route=ocr"],
            "40c6e9411360f13e",
        ),
        (
            ["route=auto", "structure.auto=false", "ocr.textRecognitionPrecision=int8"],
            "5e05c8c27434ae6b",
        ),
        (
            ["route=vl", "vl.backend=remote", "vl.remoteUrl=http://x"],
            "042828052b237a2a",
        ),
        # 9054e28: the fp32 recogniser by default, route ocr.
        (["route=ocr"], "df12cc92865b6500"),
        # 0.2.0: route structure by default.
        (["route=structure"], "d069b7e1e625bed6"),
        # 0.3.0: route auto by default, text layers read with structure.
        ([], "a3a638a075ec24e4"),
        # Operational settings change how, not what: same fingerprint.
        (
            ["render.passwords=[a]", "ocr.cpuThreads=3", "ocr.isolate=false"],
            "a3a638a075ec24e4",
        ),
    ],
)
def test_fingerprints_are_stable(overrides, fingerprint):
    assert load_config(None, overrides).fingerprint() == fingerprint


def test_operational_fields_are_declared_on_the_fields():
    from ocrbeam.transforms.config import PPOCRv5Config, RenderConfig, fields_with

    assert set(fields_with(RenderConfig, "operational")) == {
        "passwords",
        "page_timeout_s",
        "isolate",
    }
    assert "cpu_threads" in fields_with(PPOCRv5Config, "operational")
    assert "text_det_thresh" in fields_with(PPOCRv5Config, "predict")
    assert "text_det_thresh" not in fields_with(PPOCRv5Config, "operational")


@pytest.mark.parametrize("lang", ["ch", "chinese_cht", "en", "japan"])
def test_lang_alone_takes_what_the_bundled_recogniser_reads(lang):
    assert load_config(None, [f"ocr.lang={lang}"]).ocr.lang == lang
    assert load_config(None, ["ocr.ocrVersion=PP-OCRv5"]).ocr.ocr_version


@pytest.mark.parametrize(
    "override, names",
    [
        ("ocr.lang=korean", "textRecognitionModelDir"),
        (
            "ocr.ocrVersion=PP-OCRv4",
            "textDetectionModelDir and textRecognitionModelDir",
        ),
    ],
)
def test_lang_or_version_beyond_the_bundled_models_is_refused(override, names):
    with pytest.raises(ConfigError) as err:
        load_config(None, [override])
    [line] = str(err.value).splitlines()[1:]
    assert names in line and "never downloads weights" in line


def _model_dir(tmp_path, name: str):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "inference.yml").write_text(f"Global:\n  model_name: {name}\n")
    return str(folder)


def test_lang_must_agree_with_the_model_the_dir_holds(tmp_path):
    from ocrbeam.engines.languages import check_models

    det = _model_dir(tmp_path, "PP-OCRv5_server_det")
    korean = _model_dir(tmp_path, "korean_PP-OCRv5_mobile_rec")
    dirs = [f"ocr.textDetectionModelDir={det}", f"ocr.textRecognitionModelDir={korean}",
            "ocr.textRecognitionModelName=korean_PP-OCRv5_mobile_rec"]  # fmt: skip
    check_models(load_config(None, [*dirs, "ocr.lang=korean"]).ocr)
    check_models(load_config(None, [*dirs, "ocr.ocrVersion=PP-OCRv5"]).ocr)
    with pytest.raises(ValueError, match="lang=japan but ocr.textRecognitionModelDir"):
        check_models(load_config(None, [*dirs, "ocr.lang=japan"]).ocr)
    with pytest.raises(ValueError, match="ocrVersion=PP-OCRv4 but"):
        check_models(load_config(None, [*dirs, "ocr.ocrVersion=PP-OCRv4"]).ocr)
    latin = _model_dir(tmp_path, "latin_PP-OCRv5_mobile_rec")
    check_models(load_config(None, [f"ocr.textRecognitionModelDir={latin}",
                                     "ocr.lang=fr"]).ocr)  # fmt: skip


def test_the_run_refuses_a_dir_that_does_not_read_lang(tmp_path, capsys):
    from ocrbeam.cli import main

    korean = _model_dir(tmp_path, "korean_PP-OCRv5_mobile_rec")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.png").write_bytes(b"x")
    code = main(["run", "--input", str(tmp_path / "in"),
                 "--output", str(tmp_path / "out"),
                 "--set", f"ocr.textRecognitionModelDir={korean}",
                 "--set", "ocr.lang=japan"])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "ocr.lang=japan but" in err and "korean_PP-OCRv5_mobile_rec" in err


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["ocr.remoteUrl=http://svc"], "remoteUrl has no effect unless backend=remote"),
        (["ocr.backend=remote", "ocr.remoteUrl=http://svc", "ocr.cpuThreads=2"],
         "cpuThreads has no effect with backend=remote"),
        (["ocr.backend=remote", "ocr.remoteUrl=http://svc", "ocr.lang=en"],
         "lang has no effect with backend=remote"),
        (["ocr.enableMkldnn=false"], "enableMkldnn has no effect on the onnxruntime"),
        (["ocr.useTextlineOrientation=false", "ocr.textlineOrientationBelowScore=0.9"],
         "textlineOrientationBelowScore has no effect with useTextlineOrientation"),
        (["ocr.useDocOrientationClassify=false",
          "ocr.docOrientationClassifyModelDir=/m"],
         "docOrientationClassifyModelDir has no effect"),
        (["ocr.docUnwarpingModelDir=/m"], "has no effect without useDocUnwarping"),
        (["vl.topP=0.5"], "vl.topP has no effect: it applies only with route=vl"),
        (["sink.bigquery.method=STREAMING_INSERTS"],
         "applies only once sink.bigquery.pagesTable is set"),
        (["route=vl", "vl.backend=remote", "vl.remoteUrl=http://x", "vl.device=gpu"],
         "device has no effect with backend=remote"),
        (["route=vl", "vl.backend=native", "vl.layoutDetectionModelDir=/l",
          "vl.vlRecModelDir=/r", "vl.vlRecServerUrl=http://vlm"],
         "vlRecServerUrl has no effect unless backend is vllm-server"),
    ],
)  # fmt: skip
def test_values_that_would_be_ignored_are_refused_by_name(overrides, message):
    with pytest.raises(ConfigError) as err:
        load_config(None, overrides)
    assert message in str(err.value)


def test_ready_configs_with_a_few_keys_changed_still_load():
    """A written-out config (every default given) combines with overrides:
    only values changed from their defaults can be refused."""
    cpu = str(Path(__file__).parent.parent / "configs" / "cpu.yaml")
    remote = load_config(cpu, ["ocr.backend=remote", "ocr.remoteUrl=http://svc"])
    assert remote.ocr.backend == "remote"


def test_auto_is_the_default_route_with_structure_where_ocrbeam_runs_the_ocr():
    """Layout and tables by default, on text-layer and OCR'd pages alike
    (bench/README.md says what they cost); with a remote OCR service there is
    no engine of ocrbeam's to hold them, so route auto reads lines, and route
    structure (as configs written before 0.3.0 say) is route ocr."""
    default = load_config(None, [])
    assert default.route == "auto" and default.structure_pages
    assert default.render.text_layer == "auto"
    remote = ["ocr.backend=remote", "ocr.remoteUrl=http://svc"]
    assert load_config(None, remote).route == "auto"
    assert not load_config(None, remote).structure_pages
    assert load_config(None, [*remote, "route=structure"]).route == "ocr"
    assert load_config(None, ["route=structure"]).structure_pages
    assert not load_config(None, ["structure.auto=false"]).structure_pages
    with pytest.raises(ConfigError, match="render.textLayer has no effect"):
        load_config(None, ["route=structure", "render.textLayer=ignore"])
    with pytest.raises(ConfigError, match="structure.tables has no effect"):
        load_config(None, ["route=ocr", "structure.tables=false"])
    with pytest.raises(ConfigError, match="structure.auto has no effect"):
        load_config(None, ["route=structure", "structure.auto=false"])
