"""Remote engine: OCR pages through a PaddleOCR / PaddleX serving endpoint.

``POST {url}/ocr`` with one page image per request (Base64, ``fileType: 1``)
and the request parameters of the config (SPEC.md, camelCase), so pages
spread over workers and no per-request page limit applies.  The response
envelope is ``{logId, errorCode, errorMsg, result}``; a page's result is
``result.ocrResults[0].prunedResult``, the same JSON the local engine gives.

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
import threading
import time
from typing import Any, Optional

TOKEN_ENV = "OCRBEAM_REMOTE_TOKEN"

#: Config fields sent as ``POST /ocr`` request parameters (SPEC.md), under the
#: config's own camelCase alias (``text_det_thresh`` -> ``textDetThresh``).
REQUEST_FIELDS = (
    "use_doc_orientation_classify",
    "use_doc_unwarping",
    "use_textline_orientation",
    "text_det_limit_side_len",
    "text_det_limit_type",
    "text_det_thresh",
    "text_det_box_thresh",
    "text_det_unclip_ratio",
    "text_rec_score_thresh",
)


class ServiceError(RuntimeError):
    """The service did not give a result for a page; ``error_type`` says how."""

    def __init__(self, error_type: str, message: str, status: Optional[int] = None):
        super().__init__(message)
        self.error_type = error_type
        self.status = status


def request_fields(config) -> dict[str, Any]:
    """The ``/ocr`` request parameters a config sets (None: the service's default)."""
    from pydantic.alias_generators import to_camel

    fields: dict[str, Any] = {"visualize": False}
    for name in REQUEST_FIELDS:
        value = getattr(config, name, None)
        if value is not None:
            fields[to_camel(name)] = value
    return fields


def parse_ocr_response(status: int, body: bytes) -> dict[str, Any]:
    """The first ``prunedResult`` (and the page size) of an ``/ocr`` answer.

    Raises:
        ServiceError: the answer is an error or has no result.
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
    try:
        page = envelope["result"]["ocrResults"][0]
        pruned = dict(page["prunedResult"])
    except (KeyError, IndexError, TypeError):
        raise ServiceError(
            "service_bad_response", f"no result.ocrResults[0].prunedResult: {message}"
        ) from None
    info = envelope["result"].get("dataInfo") or {}
    return {"pruned": pruned, "width": info.get("width"), "height": info.get("height")}


def _retry_after(headers) -> Optional[float]:
    try:
        return float(headers.get("Retry-After"))
    except (TypeError, ValueError):
        return None


class RemoteOcrClient:
    """Stands where the local engine stands: ``predict(png) -> EngineOutput``."""

    def __init__(
        self,
        url: str,
        fields: dict[str, Any],
        *,
        token: Optional[str] = None,
        timeout_s: float = 120.0,
        max_retries: int = 4,
        backoff_s: float = 1.0,
    ):
        import requests

        self._endpoint = url.rstrip("/") + "/ocr"
        self._fields = fields
        self._timeout_s = timeout_s
        self._max_retries = max_retries
        self._backoff_s = backoff_s
        self._session = requests.Session()
        token = token or os.environ.get(TOKEN_ENV)
        if token:
            self._session.headers["Authorization"] = f"token {token}"
        self.lock = threading.Lock()  # for RunInference's load bookkeeping
        self.loads = 1
        self.reported_loads = 0
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

    def predict(self, png: bytes):
        from .handlers import EngineOutput, decode_png

        body = {"file": base64.b64encode(png).decode("ascii"), "fileType": 1}
        body.update(self._fields)
        response = self._post(body)
        parsed = parse_ocr_response(response.status_code, response.content)
        width, height = parsed["width"], parsed["height"]
        if not width or not height:
            image = decode_png(png)
            height, width = image.shape[:2]
        pruned = parsed["pruned"]
        angle = (pruned.get("doc_preprocessor_res") or {}).get("angle")
        return EngineOutput(
            pruned, angle if angle not in (None, -1) else None, width, height
        )

    def close(self) -> None:
        self._session.close()
