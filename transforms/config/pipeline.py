"""The whole configuration, its fingerprint, and loading it from YAML."""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Literal, Optional

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from .base import ConfigError, Section, changed, fields_with
from .io import RenderConfig, SinkConfig, SourceConfig
from .ocr import PPOCRv5Config
from .structure import StructureConfig
from .vl import PaddleOCRVLConfig


def _results_fields(section: BaseModel) -> dict[str, Any]:
    """A section's values that change page results (its operational fields left out)."""
    return section.model_dump(exclude=set(fields_with(type(section), "operational")))


def _vl_results_fields(vl: PaddleOCRVLConfig) -> dict[str, Any]:
    fields = _results_fields(vl)
    if vl.backend == "remote":
        # The service picks its models, whatever pipelineVersion says (it is
        # refused with backend=remote); hash the value 0.1.0 hashed, so that
        # reruns continue outputs written then.
        fields["pipeline_version"] = "v1.6"
    return fields


class PipelineConfig(Section):
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
    structure: StructureConfig = Field(
        default_factory=StructureConfig,
        description="Layout and table models (routes auto and structure).",
    )
    route: Literal["auto", "structure", "ocr", "text_layer", "vl"] = Field(
        "auto",
        description="auto (the default): find every page's regions (titles, "
        "tables with their cells, figures, columns) with a layout and a table "
        "model on CPU, taking a PDF page's words from its own text layer when "
        "that passes its checks (render.textLayer) and OCR'ing every other page "
        "(structure.auto=false or ocr.backend=remote: text-layer pages as lines, "
        "OCR'd pages as route ocr reads them); structure: OCR every page, with "
        "its regions; ocr: OCR every page, lines and paragraphs only (what "
        "structure means with ocr.backend=remote: the models run in ocrbeam's "
        "own engine); text_layer: PDF pages' text layer as it is, as lines (no "
        "models); vl: parse every page with PaddleOCR-VL (layout, tables, "
        "formulas, markdown). The route taken is the row's route.",
    )
    on_error: Literal["dead_letter", "fail"] = Field(
        "dead_letter",
        description="dead_letter: a failing document or page becomes an errors/ "
        "row and the run goes on; fail: the first error fails the run.",
    )

    @model_validator(mode="before")
    @classmethod
    def _route_default(cls, data: Any) -> Any:
        # The layout and table models run in ocrbeam's own OCR engine: with a
        # remote one route structure (as configs written out before 0.3.0 say
        # it) is plain OCR.  Route auto reads such pages as lines.
        if not isinstance(data, dict) or data.get("route") != "structure":
            return data
        ocr = data.get("ocr")
        backend = (
            ocr.get("backend")
            if isinstance(ocr, dict)
            else getattr(ocr, "backend", None)
        )
        return {**data, "route": "ocr"} if backend == "remote" else data

    @property
    def structure_pages(self) -> bool:
        """Whether OCR'd pages are read with the layout and table models."""
        if self.route == "auto":
            return self.structure.auto and self.ocr.backend != "remote"
        return self.route == "structure"

    @model_validator(mode="after")
    def _check_route(self) -> PipelineConfig:
        # Nothing accepted and ignored: keys of a section this configuration
        # never uses, changed from their defaults, are refused by name.
        unused = []
        if self.route != "vl":
            unused.append((_changed_keys(self.vl, "vl."), "with route=vl"))
        structure = _changed_keys(self.structure, "structure.")
        auto = [k for k in structure if k == "structure.auto"]
        models = [k for k in structure if k != "structure.auto"]
        if self.route != "auto":
            unused.append((auto, "with route=auto"))
            text_layer = _changed_keys(self.render, "render.")
            text_layer = [k for k in text_layer if k == "render.textLayer"]
            unused.append((text_layer, "with route=auto"))
        if not self.structure_pages:
            unused.append(
                (
                    models,
                    "with the layout and table models (route=structure, or "
                    "route=auto with a local ocr.backend)",
                )
            )
        if not self.sink.bigquery.pages_table:
            bigquery = _changed_keys(self.sink.bigquery, "sink.bigquery.")
            unused.append((bigquery, "once sink.bigquery.pagesTable is set"))
        problems = [
            f"{', '.join(keys)} {'has' if len(keys) == 1 else 'have'} no effect: "
            f"{'it applies' if len(keys) == 1 else 'they apply'} only {when}"
            for keys, when in unused
            if keys
        ]
        if problems:
            raise ValueError("; ".join(problems))
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
    def fail_fast(self) -> bool:
        """Errors fail the run instead of becoming dead letters."""
        return self.on_error == "fail"

    def fingerprint(self) -> str:
        """A short hash of everything that changes page results: the
        ``config_hash`` of every row, by which reruns find finished pages."""
        engine = (
            {"vl": _vl_results_fields(self.vl)}
            if self.route == "vl"
            else {"ocr": _results_fields(self.ocr)}
        )
        if self.structure_pages:
            engine["structure"] = _results_fields(self.structure)
        render = _results_fields(self.render)
        if self.route != "auto" or (
            not self.structure_pages and self.render.text_layer == "auto"
        ):
            # Read by route auto only, whose text-layer pages go to the models
            # since 0.3.0: every other configuration keeps the hash it had.
            render.pop("text_layer")
        relevant = {
            "render": render,
            **engine,
            "route": self.route,
        }
        blob = json.dumps(relevant, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def _changed_keys(section: BaseModel, prefix: str) -> list[str]:
    """Dotted camelCase keys of a section whose value is not their default."""
    from pydantic.alias_generators import to_camel

    names = changed(section, type(section).model_fields)
    return [prefix + to_camel(name) for name in names]


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
        elif isinstance(item.get("input"), dict):  # a rule across a section's keys
            lines.append(f"{where}: " + item["msg"].removeprefix("Value error, "))
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
    return _validated(tree, overrides or [])


def with_overrides(config: PipelineConfig, overrides: list[str]) -> PipelineConfig:
    """``config`` with ``key=value`` overrides applied, as ``--set`` applies
    them (the values given, or left at their defaults, stay as they were).

    Raises:
        ConfigError: an override is malformed or makes the config invalid.
    """
    return _validated(config.model_dump(by_alias=True, exclude_unset=True), overrides)


def _validated(tree: dict[str, Any], overrides: list[str]) -> PipelineConfig:
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        _set_dotted(tree, key.strip(), yaml.safe_load(raw))
    try:
        return PipelineConfig.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc)) from None
