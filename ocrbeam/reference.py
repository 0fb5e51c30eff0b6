"""The configuration reference, rendered from the config model itself: the
``configuration`` part of ``ocrbeam run --help`` and docs/configuration.md.

``python -m ocrbeam.reference > docs/configuration.md`` regenerates the
document; ``tests/test_docs.py`` checks that the committed one is current.
"""

from __future__ import annotations

import json
import sys
import textwrap
import typing
from collections.abc import Iterator
from typing import Any, NamedTuple

from pydantic import BaseModel
from pydantic.alias_generators import to_camel


class FieldDoc(NamedTuple):
    """One config key as a user writes it."""

    key: str  # dotted, camelCase: ocr.textDetThresh
    type: str
    default: str
    description: str
    roles: tuple[str, ...]


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " | ".join(str(a) for a in args)
    if origin is typing.Union:
        names = [_type_name(a) for a in args if a is not type(None)]
        return " or ".join(names) + (" or null" if type(None) in args else "")
    if origin in (list, dict):
        return f"{origin.__name__} of " + ", ".join(_type_name(a) for a in args)
    return getattr(annotation, "__name__", str(annotation))


def _default(info) -> str:
    value = info.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return ""
    return json.dumps(value)


def _ordered(model: type[BaseModel]) -> list[str]:
    """A section's fields, its own first and the remote-service settings it
    inherits after them (the order a reader wants)."""
    from ocrbeam.transforms.config import RemoteSettings

    inherited = (
        set(RemoteSettings.model_fields) if issubclass(model, RemoteSettings) else set()
    )
    names = list(model.model_fields)
    return [n for n in names if n not in inherited] + [
        n for n in names if n in inherited
    ]


def fields(
    model: type[BaseModel] | None = None, prefix: str = ""
) -> Iterator[FieldDoc]:
    """Every key of the config (sections recursed into), in declaration order."""
    from ocrbeam.transforms.config import PipelineConfig, field_roles

    model = model or PipelineConfig
    for name in _ordered(model):
        info = model.model_fields[name]
        key = prefix + to_camel(name)
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from fields(annotation, key + ".")
            continue
        yield FieldDoc(
            key,
            _type_name(annotation),
            _default(info),
            info.description or "",
            field_roles(model, name),
        )


def config_keys(width: int = 79) -> str:
    """The ``configuration`` block of ``ocrbeam run --help``: every key and
    its default, by section."""
    lines = [
        "configuration (--config FILE, then --set KEY=VALUE; keys in camelCase",
        "or snake_case; what each key means: ocrbeam config [KEY ...]):",
    ]
    sections: dict[str, list[str]] = {}
    for doc in fields():
        section, _, key = doc.key.rpartition(".")
        sections.setdefault(section, []).append(f"{key}={doc.default}")
    for section, keys in sections.items():
        lines.extend(
            textwrap.wrap(
                " ".join(keys),
                width=width,
                initial_indent=f"  {section or '(top)':<13} ",
                subsequent_indent=" " * 16,
                break_on_hyphens=False,
            )
        )
    return "\n".join(lines)


def config_help(prefixes: tuple[str, ...] = (), width: int = 79) -> str:
    """Each key starting with one of ``prefixes`` (camelCase or snake_case;
    all keys when none), its type, default and description."""
    wanted = [p.replace("_", "").lower() for p in prefixes]
    lines = []
    for doc in fields():
        plain = doc.key.lower()
        if wanted and not any(plain.startswith(w) for w in wanted):
            continue
        roles = [r for r in ("request", "operational") if r in doc.roles]
        tag = (
            f"  [{', '.join('service field' if r == 'request' else r for r in roles)}]"
        )
        lines.append(
            f"{doc.key} = {doc.default}  ({doc.type})" + (tag if roles else "")
        )
        lines.extend(
            textwrap.wrap(
                doc.description,
                width=width,
                initial_indent="    ",
                subsequent_indent="    ",
            )
        )
    return "\n".join(lines)


_SECTION_TITLES = {
    "source": "Inputs (`source`)",
    "render": "Rendering (`render`)",
    "ocr": "PP-OCRv5 engine (`ocr`): the `POST /ocr` service's parameters",
    "sink": "Outputs (`sink`)",
    "vl": "PaddleOCR-VL (`vl`, route vl): the `POST /layout-parsing` parameters",
    "": "Top level",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def config_markdown() -> str:
    """docs/configuration.md."""
    out = [
        "# Configuration",
        "",
        "<!-- Generated from the config model (transforms/config/) by",
        "     `python -m ocrbeam.reference > docs/configuration.md`; do not edit. -->",
        "",
        "One YAML file (`--config`; `configs/` holds ready ones), then",
        "`--set KEY=VALUE` overrides (values parsed as YAML). Keys take the",
        "PaddleOCR service's camelCase names or snake_case; unknown keys are",
        "rejected with their name. A **service field** is a request parameter of",
        "the PaddleOCR service (`POST /ocr` or `POST /layout-parsing`): the local",
        "engine takes it too, and `backend: remote` sends it under this name.",
        "Settings marked *operational* change how pages are computed, never the",
        "result, and are left out of the `config_hash` of the rows (so changing",
        "them does not make a rerun redo finished pages).",
    ]
    section = None
    for doc in fields():
        head = doc.key.split(".")[0] if "." in doc.key else ""
        if head != section:
            section = head
            out += [
                "",
                f"## {_SECTION_TITLES.get(section, section)}",
                "",
                "| key | type | default | |",
                "|---|---|---|---|",
            ]
        notes = []
        if "request" in doc.roles:
            notes.append("service field")
        if "operational" in doc.roles:
            notes.append("*operational*")
        note = f" ({', '.join(notes)})" if notes else ""
        out.append(
            f"| `{doc.key}` | {_cell(doc.type)} | `{doc.default}` | "
            f"{_cell(doc.description)}{note} |"
        )
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.stdout.write(config_markdown())
