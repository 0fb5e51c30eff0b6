"""Pipeline configuration: one frozen pydantic model, loaded from YAML.

Keys are accepted in snake_case and in the camelCase of the PaddleOCR service
(``textDetThresh`` and ``text_det_thresh`` are the same field).  Unknown keys
are rejected with a message naming them.  Each transform receives only its own
section (``render``, ``ocr``, ``sink``...), never the whole config.

Every field is declared once, with its description and its roles
(:mod:`.base`): the engines' keyword arguments, the remote service's request
fields, ``ocrbeam run --help`` and docs/configuration.md are derived from it.

Example:
    >>> cfg = load_config(None, ["ocr.textDetThresh=0.4", "render.dpi=200"])
    >>> cfg.ocr.text_det_thresh, cfg.render.dpi
    (0.4, 200)
"""

from .base import ConfigError, Section, field_roles, fields_with, values_with
from .io import BigQueryConfig, RenderConfig, SinkConfig, SourceConfig
from .ocr import PPOCRv5Config
from .pipeline import PipelineConfig, load_config, with_overrides
from .remote import RemoteSettings
from .structure import StructureConfig
from .vl import PaddleOCRVLConfig

__all__ = [
    "BigQueryConfig",
    "ConfigError",
    "PPOCRv5Config",
    "PaddleOCRVLConfig",
    "PipelineConfig",
    "RemoteSettings",
    "RenderConfig",
    "Section",
    "SinkConfig",
    "SourceConfig",
    "StructureConfig",
    "field_roles",
    "fields_with",
    "load_config",
    "values_with",
    "with_overrides",
]
