"""What crosses into the services from outside, checked before anything runs: HTTP request bodies, Pub/Sub
push envelopes and order messages. Anything else is a BadRequest saying what was wrong; nothing here
touches state, so a bad request changes nothing."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

from tron.domain.models import OrderIntent

MAX_BODY_BYTES = 64 * 1024  # an order message is ~150 bytes, a request body a few dozen
MAX_PUSH_BYTES = 256 * 1024  # the push envelope adds base64 and Pub/Sub's metadata
INTENT_ID = re.compile(r"^\d{8}-[A-Za-z0-9_&-]{1,160}$")  # also a safe document id: no "/" or ".."
INTENT_FIELDS = frozenset(f.name for f in fields(OrderIntent))


class BadRequest(ValueError):
    """The input is malformed; the message says how. `status` is the HTTP answer it deserves."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def json_object(body: bytes, limit: int = MAX_BODY_BYTES, required: bool = False) -> dict[str, Any]:
    """A request body that must be a JSON object (or empty, when not required: then {})."""
    if len(body) > limit:
        raise BadRequest(f"body of {len(body)} bytes is larger than the {limit} accepted", 413)
    if not body.strip():
        if required:
            raise BadRequest("the body must be a JSON object, got nothing")
        return {}
    try:
        value = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise BadRequest(f"the body is not UTF-8 (byte {e.start})") from None
    except RecursionError:
        raise BadRequest("the body is nested too deeply") from None
    except ValueError as e:
        raise BadRequest(f"the body is not valid JSON: {e}") from None
    if not isinstance(value, dict):
        raise BadRequest(f"the body must be a JSON object, got {_kind(value)}")
    return value


@dataclass(frozen=True)
class Push:
    """One Pub/Sub push delivery: the message's bytes and attributes, and the delivery attempt (present when
    the subscription has a dead-letter policy)."""

    data: bytes
    attributes: dict[str, str]
    attempt: int | None = None


def push(body: bytes) -> Push:
    """A Pub/Sub push envelope: {"message": {"data": base64, "attributes": {str: str}}, "deliveryAttempt"}."""
    envelope = json_object(body, MAX_PUSH_BYTES, required=True)
    message = envelope.get("message")
    if not isinstance(message, dict):
        raise BadRequest(f"the push has no message object (message is {_kind(message)})")
    data = message.get("data", "")
    if not isinstance(data, str):
        raise BadRequest(f"message.data must be a base64 string, got {_kind(data)}")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("message.data is not base64") from None
    attributes = message.get("attributes") or {}
    if not isinstance(attributes, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in attributes.items()
    ):
        raise BadRequest("message.attributes must be an object of strings")
    attempt = envelope.get("deliveryAttempt")
    return Push(raw, attributes, attempt if isinstance(attempt, int) else None)


# ---------------------------------------------------------------------------------------------- order messages
def order_message(intent: OrderIntent) -> dict[str, str]:
    """What the tick publishes for a claimed intent: only its name and a digest. The executor reads the
    claimed document and places what it says; the message is a pointer, never the order."""
    return {"intent_id": intent.intent_id, "day": intent.day.isoformat(), "digest": intent.digest}


@dataclass(frozen=True)
class OrderMessage:
    """An order message as read (:func:`read_order_message`): the intent it names, its day, its digest,
    and any intent fields it also carried, each of which must match the claim (:func:`disagreement`)."""

    intent_id: str
    day: date
    digest: str | None
    claims: dict[str, Any]  # any intent fields the message also carried: each must match the claim


def read_order_message(data: bytes, attributes: dict[str, str] | None = None) -> OrderMessage:
    """Parse an order message; BadRequest says what is wrong with it."""
    doc = json_object(data, required=True)
    intent_id, day = doc.get("intent_id"), doc.get("day")
    if not isinstance(intent_id, str) or not INTENT_ID.match(intent_id):
        raise BadRequest(f"intent_id is not an intent id: {str(intent_id)[:80]!r}")
    if not isinstance(day, str):
        raise BadRequest("the message names no day")
    try:
        when = date.fromisoformat(day)
    except ValueError:
        raise BadRequest(f"day is not a date: {day[:40]!r}") from None
    if not intent_id.startswith(f"{when:%Y%m%d}-"):
        raise BadRequest(f"intent {intent_id} is not of the day {day}")
    digest = doc.get("digest")
    if digest is not None and not isinstance(digest, str):
        raise BadRequest("digest must be a string")
    unknown = sorted(set(doc) - INTENT_FIELDS - {"digest"})
    if unknown:
        raise BadRequest(f"unknown field(s) in the order message: {', '.join(unknown)[:200]}")
    named = (attributes or {}).get("intent_id")
    if named is not None and named != intent_id:
        raise BadRequest(f"the attributes name intent {named[:80]!r}, the message {intent_id!r}")
    claims = {k: v for k, v in doc.items() if k not in ("intent_id", "day", "digest")}
    return OrderMessage(intent_id, when, digest, claims)


def disagreement(message: OrderMessage, claimed: OrderIntent) -> str | None:
    """Where the message contradicts the claimed intent (its digest, or any field it carries), or None."""
    if message.digest is not None and message.digest != claimed.digest:
        return f"digest {message.digest[:40]!r} is not the claimed intent's {claimed.digest}"
    stored = claimed.to_dict()
    try:
        said = OrderIntent.from_dict({**stored, **message.claims}).to_dict()
    except ValueError as e:
        return str(e)
    differ = sorted(k for k in stored if said[k] != stored[k])
    if differ:
        return "; ".join(f"{k} {said[k]!r} is not the claimed {stored[k]!r}" for k in differ)[:500]
    return None


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", type(None): "null", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__
    )
