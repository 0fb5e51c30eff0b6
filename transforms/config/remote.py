"""Where an engine with ``backend: remote`` sends its pages."""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from .base import Section, roles


class RemoteSettings(Section):
    """A PaddleOCR / PaddleX service that holds the models (backend=remote)."""

    remote_url: Optional[str] = Field(
        None,
        description="backend=remote: base URL of the service (POST "
        "{url}/ocr, or {url}/layout-parsing for route vl).",
    )
    remote_token: Optional[str] = Field(
        None,
        description="backend=remote: access token (Authorization: token ...); "
        "better passed as $OCRBEAM_REMOTE_TOKEN than written in a config.",
        json_schema_extra=roles("operational"),
    )
    remote_timeout_s: float = Field(
        120.0,
        gt=0,
        description="backend=remote: seconds to wait for one answer.",
        json_schema_extra=roles("operational"),
    )
    remote_max_retries: int = Field(
        4,
        ge=0,
        description="backend=remote: retries after 429, 5xx, timeouts and "
        "refused connections (exponential backoff).",
        json_schema_extra=roles("operational"),
    )
    remote_backoff_s: float = Field(
        1.0,
        gt=0,
        description="backend=remote: seconds before the first retry, doubled "
        "(with jitter) for each further one; a Retry-After answer wins.",
        json_schema_extra=roles("operational"),
    )


#: The settings above: meaningless unless the engine's backend is remote.
REMOTE_FIELDS = tuple(RemoteSettings.model_fields)
