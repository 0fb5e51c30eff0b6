"""Which languages and OCR version a PaddleOCR recogniser reads, from its
model name; and the check that ``ocr.lang`` / ``ocr.ocrVersion`` agree with
the models a config's directories hold.

PaddleOCR chooses its models from ``lang`` and ``ocr_version`` only when it is
given no model names or directories; ocrbeam always gives them, so PaddleOCR
would ignore both.  ocrbeam reads them as statements about the pages instead,
and refuses a model directory whose recogniser does not read them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from ocrbeam.transforms.config import PPOCRv5Config

_NAME = re.compile(r"^(?:(?P<group>[a-z_]+)_)?(?P<version>PP-OCRv\d+)_\w+_rec$")
#: PP-OCRv5's recognisers named without a language prefix read Chinese
#: (Simplified and Traditional), English and Japanese; before PP-OCRv5,
#: Chinese and English.
_UNPREFIXED_V5 = {"ch", "chinese_cht", "en", "japan"}
_UNPREFIXED_BEFORE_V5 = {"ch", "en"}


def _paddleocr_groups() -> dict[str, set[str]]:
    """PaddleOCR's own language groups: by prefix (latin, cyrillic, ...),
    and ``PP-OCRv6`` for its unprefixed recogniser."""
    try:
        from paddleocr._pipelines import ocr
    except ImportError:  # PaddleOCR laid out differently: groups unknown
        return {}
    groups = {}
    for prefix in ("latin", "eslav", "arabic", "cyrillic", "devanagari"):
        members = getattr(ocr, f"{prefix.upper()}_LANGS", None)
        if members:
            groups[prefix] = set(members)
    if getattr(ocr, "_PPOCRV6_LANGS", None):
        groups["PP-OCRv6"] = set(ocr._PPOCRV6_LANGS)
    return groups


def reads(model_name: str) -> Optional[tuple[str, set[str]]]:
    """``(ocr version, languages)`` of a recogniser, from PaddleOCR's naming
    (``korean_PP-OCRv5_mobile_rec``, ``PP-OCRv5_server_rec`` ...); None when
    the name does not say."""
    match = _NAME.match(model_name)
    if not match:
        return None
    version, group = match["version"], match["group"]
    groups = _paddleocr_groups()
    if group is not None:
        return version, groups.get(group, {group})
    if version == "PP-OCRv5":
        return version, _UNPREFIXED_V5
    return version, groups.get(version, _UNPREFIXED_BEFORE_V5)


def model_name_in(model_dir: str) -> Optional[str]:
    """The model a PaddleX model folder holds (its inference.yml's
    ``Global.model_name``); None when it does not say."""
    import yaml

    path = Path(model_dir) / "inference.yml"
    try:
        meta = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return None
    return (meta.get("Global") or {}).get("model_name")


def check_models(config: PPOCRv5Config, only_present: bool = False) -> None:
    """Refuse model directories that do not read ``lang`` / ``ocrVersion``.

    ``only_present``: skip directories this machine does not have (the
    launcher of a Dataflow job checks what it can; the workers check all).

    Raises:
        ValueError: one line naming the key, the directory and its model.
    """
    if config.lang is None and config.ocr_version is None:
        return
    dirs = {
        "textRecognitionModelDir": config.text_recognition_model_dir,
        "textDetectionModelDir": config.text_detection_model_dir,
    }
    for key, model_dir in dirs.items():
        if not model_dir or (only_present and not Path(model_dir).is_dir()):
            continue
        name = model_name_in(model_dir)
        if name is None:
            raise ValueError(
                f"ocr.{key}={model_dir} has no inference.yml naming its model, "
                "so ocr.lang / ocr.ocrVersion cannot be checked against it"
            )
        version = re.search(r"PP-OCRv\d+", name)
        if config.ocr_version and (not version or version[0] != config.ocr_version):
            raise ValueError(
                f"ocr.ocrVersion={config.ocr_version} but ocr.{key} holds {name}"
            )
        if key != "textRecognitionModelDir" or config.lang is None:
            continue
        known = reads(name)
        if known is None:
            raise ValueError(
                f"ocr.lang={config.lang}: cannot tell which languages {name} "
                f"(ocr.{key}) reads; leave ocr.lang unset for this model"
            )
        if config.lang not in known[1]:
            raise ValueError(
                f"ocr.lang={config.lang} but ocr.{key} holds {name}, which reads "
                + ", ".join(sorted(known[1]))
            )
