"""What every config section shares: strictness, aliases, and field roles.

A field's *roles* say where its value goes, so that each parameter is declared
once, here, and everything else is derived from that declaration:

* ``request``: a request parameter of the PaddleOCR service
  (``POST /ocr`` or ``POST /layout-parsing``), sent under its camelCase name by
  the remote engine;
* ``predict``: a per-call keyword argument of the engine's ``predict``;
* ``pipeline``: a keyword argument of the engine's constructor
  (``paddleocr.PaddleOCR`` / ``PaddleOCRVL``), passed when it is not null;
* ``operational``: changes how a page is computed, never what comes out, so
  it is left out of the config fingerprint (``config_hash`` of every row).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

ROLES = ("request", "predict", "pipeline", "operational")


class ConfigError(ValueError):
    """A configuration the user wrote is invalid; the message says where."""


class Section(BaseModel):
    """A config section: frozen, unknown keys rejected, camelCase or snake_case."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
    )


def roles(*names: str) -> dict[str, Any]:
    """``json_schema_extra`` that gives a field these roles (see module doc)."""
    unknown = set(names) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown field roles: {sorted(unknown)}")
    return {"roles": list(names)}


def field_roles(section: type[BaseModel], name: str) -> tuple[str, ...]:
    """The roles of one field of a section."""
    extra = section.model_fields[name].json_schema_extra
    return tuple(extra.get("roles", ())) if isinstance(extra, dict) else ()


def fields_with(section: type[BaseModel], role: str) -> tuple[str, ...]:
    """Names of a section's fields that have ``role``, in declaration order."""
    return tuple(
        name for name in section.model_fields if role in field_roles(section, name)
    )


def changed(section: BaseModel, names) -> list[str]:
    """Of ``names``, the fields of ``section`` whose value is not their default."""
    fields = type(section).model_fields
    return [
        name
        for name in names
        if getattr(section, name) != fields[name].get_default(call_default_factory=True)
    ]


def refuse_unused(section: BaseModel, names, reason: str) -> None:
    """Refuse values that would be accepted and ignored: any of ``names`` set
    to something other than its default, where ``reason`` says they have no
    effect (a config that changes a value expects it to matter).

    Raises:
        ValueError: one line naming the keys and why they do nothing.
    """
    given = changed(section, names)
    if given:
        keys = ", ".join(to_camel(name) for name in given)
        verb = "has" if len(given) == 1 else "have"
        raise ValueError(f"{keys} {verb} no effect {reason}")


def values_with(section: BaseModel, role: str) -> dict[str, Any]:
    """``{name: value}`` of a section's fields with ``role`` that are not null."""
    return {
        name: getattr(section, name)
        for name in fields_with(type(section), role)
        if getattr(section, name) is not None
    }
