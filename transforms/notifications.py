"""Cloud Storage Pub/Sub notifications -> documents to read.

A notification (https://cloud.google.com/storage/docs/pubsub-notifications)
carries attributes (``eventType``, ``bucketId``, ``objectId``,
``objectGeneration``, ``payloadFormat`` ...) and, with ``JSON_API_V1``, the
object resource as JSON (``bucket``, ``name``, ``generation``, ``size``,
``contentType`` ...).  ``OBJECT_FINALIZE`` means a new object generation is
readable: it becomes a ``DocumentRef`` pinned to that generation.  Other event
types (metadata updates, deletes, archives) are counted and dropped.  A
message that cannot be understood becomes a ``DeadLetter`` (stage
``notify``), never a crash.

Pub/Sub delivers at least once and GCS may announce one generation twice:
``DedupeRefs`` keeps the first of each (source_uri, generation) for a bounded
time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Optional

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics

from .records import DeadLetter, DeadLetterFactory, DocumentRef, typed

STAGE = "notify"
DEAD_LETTER_TAG = "dead_letter"
FINALIZE = "OBJECT_FINALIZE"


class NotificationError(ValueError):
    """A message is not a usable Cloud Storage notification."""


def parse_notification(
    data: Optional[bytes], attributes: Optional[dict[str, str]]
) -> Optional[DocumentRef]:
    """The document a notification announces, or None for other event types.

    Raises:
        NotificationError: malformed message (no event type, bad JSON, no
            bucket or object name, no generation, a non-numeric size).
    """
    attributes = dict(attributes or {})
    event = attributes.get("eventType")
    if not event:
        raise NotificationError("no eventType attribute: not a GCS notification")
    if event != FINALIZE:
        return None
    resource: dict[str, Any] = {}
    if data:
        try:
            resource = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise NotificationError(f"payload is not JSON: {exc}") from None
        if not isinstance(resource, dict):
            raise NotificationError("payload is not a JSON object")
    bucket = resource.get("bucket") or attributes.get("bucketId")
    name = resource.get("name") or attributes.get("objectId")
    generation = resource.get("generation") or attributes.get("objectGeneration")
    if not bucket or not name:
        raise NotificationError("no bucket or object name")
    if not generation:
        raise NotificationError(f"gs://{bucket}/{name}: no object generation")
    try:
        size = int(resource.get("size", 0))
    except (TypeError, ValueError):
        raise NotificationError(
            f"gs://{bucket}/{name}: size {resource.get('size')!r} is not a number"
        ) from None
    return DocumentRef(
        source_uri=f"gs://{bucket}/{name}", size=size, generation=str(generation)
    )


def _describe(attributes: dict[str, str], message_id: Optional[str]) -> str:
    bucket, name = attributes.get("bucketId"), attributes.get("objectId")
    if bucket and name:
        return f"gs://{bucket}/{name}"
    return f"pubsub-message:{message_id or 'unknown'}"


class _ParseDoFn(beam.DoFn):
    def __init__(self, config_hash: str):
        self._dead_letter = DeadLetterFactory(STAGE, config_hash)
        self._finalize = Metrics.counter("ocrbeam.notify", "finalize_events")
        self._ignored = Metrics.counter("ocrbeam.notify", "ignored_events")
        self._malformed = Metrics.counter("ocrbeam.notify", "malformed_messages")

    def process(self, message) -> Iterable:
        data = getattr(message, "data", message)
        attributes = getattr(message, "attributes", None) or {}
        try:
            ref = parse_notification(data, attributes)
        except NotificationError as exc:
            self._malformed.inc()
            where = _describe(attributes, getattr(message, "message_id", None))
            yield pvalue.TaggedOutput(
                DEAD_LETTER_TAG,
                self._dead_letter(
                    None, "malformed_notification", str(exc), source_uri=where
                ),
            )
            return
        if ref is None:
            self._ignored.inc()
            return
        self._finalize.inc()
        yield ref


class ParseNotifications(beam.PTransform):
    """``PubsubMessage`` -> (``DocumentRef``, ``DeadLetter``) PCollections."""

    def __init__(self, config_hash: str):
        super().__init__()
        self._config_hash = config_hash

    def expand(self, messages):
        outputs = messages | "Parse" >> beam.ParDo(
            _ParseDoFn(self._config_hash)
        ).with_outputs(DEAD_LETTER_TAG, main="refs")
        return (
            typed(outputs.refs, DocumentRef),
            typed(outputs[DEAD_LETTER_TAG], DeadLetter),
        )


def _ref_key(ref: DocumentRef) -> tuple:
    return (ref.source_uri, ref.generation or ""), ref


def _value(kv):
    return kv[1]


class DedupeRefs(beam.PTransform):
    """Keep the first ``DocumentRef`` per (source_uri, generation).

    Beam's ``DeduplicatePerKey`` holds one flag per key in state and clears it
    ``ttl_s`` seconds (event time) after the key was first seen, so state stays
    bounded while redeliveries within the TTL are dropped.
    """

    def __init__(self, ttl_s: float):
        super().__init__()
        self._ttl_s = ttl_s

    def expand(self, refs):
        from apache_beam.transforms.deduplicate import DeduplicatePerKey
        from apache_beam.utils.timestamp import Duration

        return typed(
            refs
            | "Key" >> beam.Map(_ref_key)
            | "Dedupe"
            >> DeduplicatePerKey(event_time_duration=Duration(seconds=self._ttl_s))
            | "Ref" >> beam.Map(_value),
            DocumentRef,
        )
