"""Remote engine: pages through a PaddleOCR / PaddleX serving endpoint.

``POST {url}/ocr`` (PP-OCRv5) or ``POST {url}/layout-parsing`` (PaddleOCR-VL,
``route: vl``) with one page image per request (Base64, ``fileType: 1``) and
the request parameters of the config (SPEC.md, camelCase), so pages spread
over workers and no per-request page limit applies.  The response envelope is
``{logId, errorCode, errorMsg, result}``; a page's result is
``result.ocrResults[0].prunedResult`` (the same JSON the local engine gives)
or ``result.layoutParsingResults[0]`` (what the local PaddleOCRVL gives).

* 429 and 5xx answers, timeouts and refused connections are retried with
  exponential backoff (and ``Retry-After`` when the service sends it); when
  the retries are spent the page becomes a ``service_unavailable`` dead letter.
* Other 4xx answers are not retried: the page becomes a ``service_rejected``
  dead letter carrying the service's ``errorMsg`` and ``logId``.
* ``remoteToken`` (or ``$OCRBEAM_REMOTE_TOKEN``) is sent as
  ``Authorization: token <TOKEN>``, as PaddleX's hosted services expect.
"""

from __future__ import annotations

import base64
import json
import os
import random
import time
from typing import Any, Optional

TOKEN_ENV = "OCRBEAM_REMOTE_TOKEN"


class ServiceError(RuntimeError):
    """The service did not give a result for a page; ``error_type`` says how."""

    def __init__(self, error_type: str, message: str, status: Optional[int] = None):
        super().__init__(message)
        self.error_type = error_type
        self.status = status


def request_fields(config) -> dict[str, Any]:
    """The request parameters an engine section sets: its fields with the
    ``request`` role, under their camelCase names (null ones left out: the
    service's default).

    ``visualize`` is always false: ocrbeam draws its own box images, so the
    service never Base64-encodes pictures nobody reads.
    """
    from pydantic.alias_generators import to_camel

    from ocrbeam.transforms.config import values_with

    fields: dict[str, Any] = {"visualize": False}
    for name, value in values_with(config, "request").items():
        fields[to_camel(name)] = value
    return fields


def parse_envelope(status: int, body: bytes) -> dict[str, Any]:
    """The ``result`` of a service answer ``{logId, errorCode, errorMsg, result}``.

    Raises:
        ServiceError: the answer is an error (``service_rejected``, with the
            service's message and logId) or carries no result.
    """
    try:
        envelope = json.loads(body.decode("utf-8") or "{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        envelope = {}
    if not isinstance(envelope, dict):
        envelope = {}
    code = envelope.get("errorCode", 0 if status == 200 else status)
    message = envelope.get("errorMsg") or body[:300].decode("utf-8", "replace")
    log_id = envelope.get("logId")
    if status != 200 or code not in (0, None):
        where = f" (logId {log_id})" if log_id else ""
        raise ServiceError(
            "service_rejected",
            f"HTTP {status}, errorCode {code}: {message}{where}",
            status,
        )
    result = envelope.get("result")
    if not isinstance(result, dict):
        raise ServiceError("service_bad_response", f"no result: {message}")
    return result


def _first_page(status: int, body: bytes, key: str) -> dict[str, Any]:
    """``result[key][0]`` of an answer (it must have a ``prunedResult``), with
    the answer's ``dataInfo`` added."""
    result = parse_envelope(status, body)
    try:
        page = dict(result[key][0])
    except (KeyError, IndexError, TypeError, ValueError):
        page = {}
    if not isinstance(page.get("prunedResult"), dict):
        raise ServiceError(
            "service_bad_response", f"no result.{key}[0].prunedResult in the answer"
        )
    page["dataInfo"] = result.get("dataInfo") or {}
    return page


def parse_ocr_response(status: int, body: bytes) -> dict[str, Any]:
    """The first ``prunedResult`` (and the page size) of an ``/ocr`` answer.

    Raises:
        ServiceError: the answer is an error or has no result.
    """
    page = _first_page(status, body, "ocrResults")
    info = page["dataInfo"]
    return {
        "pruned": dict(page["prunedResult"]),
        "width": info.get("width"),
        "height": info.get("height"),
    }


def parse_layout_response(status: int, body: bytes) -> dict[str, Any]:
    """The first ``layoutParsingResults`` entry of a ``/layout-parsing`` answer,
    with the answer's ``dataInfo`` added (what ``convert.vl_page_result`` takes).

    Raises:
        ServiceError: the answer is an error or has no result.
    """
    return _first_page(status, body, "layoutParsingResults")


def _retry_after(headers) -> Optional[float]:
    try:
        return float(headers.get("Retry-After"))
    except (TypeError, ValueError):
        return None


class ServiceClient:
    """One operation of a PaddleOCR / PaddleX service, called once per page."""

    def __init__(
        self,
        url: str,
        operation: str,
        fields: dict[str, Any],
        *,
        token: Optional[str] = None,
        timeout_s: float = 120.0,
        max_retries: int = 4,
        backoff_s: float = 1.0,
    ):
        import requests

        self._endpoint = url.rstrip("/") + "/" + operation.lstrip("/")
        self._fields = fields
        self._timeout_s = timeout_s
        self._max_retries = max_retries
        self._backoff_s = backoff_s
        self._session = requests.Session()
        token = token or os.environ.get(TOKEN_ENV)
        if token:
            self._session.headers["Authorization"] = f"token {token}"
        self._new_loads = 1  # the client counts as the one model load
        self.requests = 0

    def _post(self, body: dict[str, Any]):
        import requests

        delay = self._backoff_s
        for attempt in range(self._max_retries + 1):
            self.requests += 1
            try:
                response = self._session.post(
                    self._endpoint, json=body, timeout=self._timeout_s
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                failure, wait = f"{type(exc).__name__}: {exc}", None
            else:
                if response.status_code != 429 and response.status_code < 500:
                    return response
                failure = f"HTTP {response.status_code}: {response.text[:300]}"
                wait = _retry_after(response.headers)
            if attempt == self._max_retries:
                break
            time.sleep(wait if wait is not None else delay * (1 + random.random() / 2))
            delay *= 2
        raise ServiceError(
            "service_unavailable",
            f"{self._endpoint}: no answer after {self._max_retries + 1} attempts; "
            f"last: {failure}",
        )

    def post_image(self, png: bytes):
        """POST one page image with the configured fields; the HTTP response."""
        body = {"file": base64.b64encode(png).decode("ascii"), "fileType": 1}
        body.update(self._fields)
        return self._post(body)

    def take_new_loads(self) -> int:
        new, self._new_loads = self._new_loads, 0
        return new

    def close(self) -> None:
        self._session.close()


class RemoteOcrClient(ServiceClient):
    """Stands where the local engine stands: ``predict(png) -> EngineOutput``."""

    def __init__(self, url: str, fields: dict[str, Any], **kwargs):
        super().__init__(url, "ocr", fields, **kwargs)

    def predict(self, png: bytes):
        from . import page_turn
        from .images import decode_png
        from .ppocrv5 import EngineOutput

        response = self.post_image(png)
        parsed = parse_ocr_response(response.status_code, response.content)
        width, height = parsed["width"], parsed["height"]
        if not width or not height:
            image = decode_png(png)
            height, width = image.shape[:2]
        pruned = parsed["pruned"]
        angle = (pruned.get("doc_preprocessor_res") or {}).get("angle")
        angle = angle if angle not in (None, -1) else None
        if page_turn.upside_down(pruned):  # the service's classifier missed it
            pruned = page_turn.turn_180(pruned, width, height)
            angle = ((angle or 0) + 180) % 360
            pruned["doc_preprocessor_res"] = {"angle": angle}
        return EngineOutput(pruned, angle, width, height)


class RemoteLayoutClient(ServiceClient):
    """``POST /layout-parsing`` per page: ``predict(png) -> layout result``."""

    def __init__(self, url: str, fields: dict[str, Any], **kwargs):
        super().__init__(url, "layout-parsing", fields, **kwargs)

    def predict(self, png: bytes) -> dict[str, Any]:
        response = self.post_image(png)
        return parse_layout_response(response.status_code, response.content)


def remote_client(config, client_type: type):
    """The ``client_type`` for an engine section with backend=remote."""
    return client_type(
        config.remote_url,
        request_fields(config),
        token=config.remote_token,
        timeout_s=config.remote_timeout_s,
        max_retries=config.remote_max_retries,
        backoff_s=config.remote_backoff_s,
    )
