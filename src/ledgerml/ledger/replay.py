"""Exact fast parsing of stored event bodies for replays: one JSON decode and one canonical encoding per event.

``parse_event`` followed by ``Event.typed_payload`` decodes the body, re-encodes the whole envelope to check its
canonical form, validates the payload and encodes the validated payload a second time. A stored body is almost
always canonical, so :func:`fast_event` checks the same things cheaper: the envelope against its one canonical
byte layout (fields sorted, no whitespace, integers without leading zeros, the string fields needing no JSON
escapes), the payload decoded, validated and re-encoded once, which must give back exactly the stored payload
bytes. When every check passes the body is the canonical encoding of its own fields, so the result is the
``Event`` ``parse_event`` builds, its payload already validated. When anything differs it returns None and the
caller parses the slow way, which raises the precise error: a tampered body is never accepted by this path.
"""

from __future__ import annotations

import hashlib
import json
import re

from .._json import loads_bounded
from ..events import MAX_EVENT_BYTES, MAX_EVENT_DEPTH, MAX_EVENT_TIME, MAX_NONCE, Event, Payload, payload_types
from ..types import Address, is_checksum_address

_ENVELOPE = re.compile(
    rb'\{"actor":"(0x[0-9a-fA-F]{40})","kind":"([A-Za-z0-9_]{1,256})","ledger":"([0-9a-f]{32})",'
    rb'"nonce":(0|[1-9][0-9]{0,18}),"payload":(\{.*\}),"signature":"0x([0-9a-f]{130})",'
    rb'"time":(0|[1-9][0-9]{0,14}),"v":1\}',
    re.DOTALL,
)
"""The canonical envelope of event format 1 whose string fields JSON writes unescaped (any other: slow path)."""
_SIGNATURE_PREFIX = len(b',"signature":"0x')
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
"""``canonical_json``'s encoder: the payload is compared as text, before the UTF-8 step."""
_SCHEMAS: dict[bytes, type[Payload]] = {}


def _schema(kind: bytes) -> type[Payload] | None:
    """The payload schema registered for ``kind`` (cached by its bytes)."""
    found = _SCHEMAS.get(kind)
    if found is None:
        found = payload_types().get(kind.decode("ascii"))
        if found is not None:
            _SCHEMAS[kind] = found
    return found


def fast_event(body: bytes) -> Event | None:
    """The event ``parse_event(body)`` returns, its payload validated as ``typed_payload`` does; None whenever
    any check fails (``parse_event`` then raises the precise error)."""
    if len(body) > MAX_EVENT_BYTES or body.count(b"{") + body.count(b"[") > MAX_EVENT_DEPTH:
        return None
    match = _ENVELOPE.fullmatch(body)
    if match is None:
        return None
    actor, kind, ledger, nonce, payload_bytes, signature, time = match.groups()
    schema = _SCHEMAS.get(kind) or _schema(kind)
    if schema is None or int(nonce) > MAX_NONCE or int(time) > MAX_EVENT_TIME:
        return None
    try:
        payload_text = payload_bytes.decode("utf-8")
        payload = loads_bounded(payload_bytes, max_bytes=MAX_EVENT_BYTES, max_depth=MAX_EVENT_DEPTH)
        typed = schema.model_validate(payload)
        if _ENCODER.encode(typed.model_dump(mode="json")) != payload_text:
            return None
    except Exception:  # whatever a schema or the encoder raises: the slow path reports it precisely
        return None
    address = actor.decode("ascii")
    if not is_checksum_address(address):
        return None
    event = Event.__new__(Event)  # every slot set below: tests/ledger/test_replay.py compares them all
    event.ledger, event.kind, event.actor = ledger.decode("ascii"), kind.decode("ascii"), Address(address)
    event.nonce, event.time, event.payload = int(nonce), int(time), payload
    event.signature = bytes.fromhex(signature.decode("ascii"))
    event.digest = hashlib.sha256(body[: match.start(6) - _SIGNATURE_PREFIX] + body[match.end(6) + 1 :]).digest()
    event.body, event._typed = body, typed
    return event


__all__ = ["fast_event"]
