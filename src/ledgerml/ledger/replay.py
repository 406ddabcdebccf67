"""Exact fast parsing of stored event bodies for replays: one JSON parse and one canonical encoding per event.

``parse_event`` followed by ``Event.typed_payload`` decodes the body, re-encodes the whole envelope to check its
canonical form, validates the payload and encodes the validated payload a second time. A stored body is almost
always canonical, so :func:`fast_event` checks the same things cheaper: the envelope against its one canonical
byte layout (fields sorted, no whitespace, integers without leading zeros, the string fields needing no JSON
escapes), the payload parsed and validated in one step by the schema's own JSON validator, dumped and re-encoded
once (one reused C encoder), which must give back exactly the stored payload text. When every check passes the
body is the canonical encoding of its own fields, so the result is the ``Event`` ``parse_event`` builds (the
payload is the dump, keys in the text's order), its payload already validated: the dump's canonical text is the
stored text, so the slow path's validation of the same JSON data gives the same model. When anything differs it
returns None and the caller parses the slow way, which raises the precise error: a tampered body is never accepted
by this path (tests/ledger/test_fast_verify.py compares both on random valid and invalid payload texts).
"""

from __future__ import annotations

import gc
import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ForwardRef, NamedTuple, get_args

from pydantic import BaseModel

from .._json import nesting_depth
from ..events import MAX_EVENT_BYTES, MAX_EVENT_DEPTH, MAX_EVENT_TIME, MAX_NONCE, Event, payload_types
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


def _c_encoder() -> Callable[[Any], str]:
    """``_ENCODER.encode`` for the JSON data pydantic dumps, by one reused C encoder (``JSONEncoder.encode`` builds
    a new one each call); without the circular-reference check, which a dump never needs; same text."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return _ENCODER.encode
    encoder = make(None, _ENCODER.default, json.encoder.encode_basestring, None, ":", ",", True, False, False)

    def encode(value: Any) -> str:
        return "".join(encoder(value, 0))

    return encode


_encode = _c_encoder()


class _Schema(NamedTuple):
    """What :func:`fast_event` needs of one kind's payload schema, found once per kind."""

    validate: Callable[[str], Any]
    """``schema.model_validate_json`` with its defaults: the validator's own call, without the classmethod's frame."""
    dump: Callable[[Any], dict[str, Any]]
    """``model.model_dump(mode="json")``: the serializer's own call."""
    nested: bool
    """Whether any field can hold a nested model (dumped in declaration order)."""
    declared: list[str]
    """The fields in declaration order (the keys of a dump), and sorted (a payload's keys in the text's order)."""
    ordered: tuple[str, ...]


_SCHEMAS: dict[bytes, _Schema] = {}


def _schema(kind: bytes) -> _Schema | None:
    """The payload schema registered for ``kind`` as :func:`fast_event` uses it (cached by the kind's bytes)."""
    found = _SCHEMAS.get(kind)
    if found is None:
        schema = payload_types().get(kind.decode("ascii"))
        if schema is not None:
            serializer = schema.__pydantic_serializer__

            def dump(model: Any) -> dict[str, Any]:
                dumped: dict[str, Any] = serializer.to_python(model, mode="json")
                return dumped

            fields = schema.model_fields
            found = _SCHEMAS[kind] = _Schema(
                schema.__pydantic_validator__.validate_json,
                dump,
                any(_may_hold_model(f.annotation) for f in fields.values()),
                list(fields),
                tuple(sorted(fields)),
            )
    return found


def _may_hold_model(annotation: Any) -> bool:
    """Whether a field of this type can hold a pydantic model (an unresolved name counts as one)."""
    if isinstance(annotation, str | ForwardRef):
        return True
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_may_hold_model(arg) for arg in get_args(annotation))


def fast_event(body: bytes) -> Event | None:
    """The event ``parse_event(body)`` returns, its payload validated as ``typed_payload`` does; None whenever
    any check fails (``parse_event`` then raises the precise error)."""
    if len(body) > MAX_EVENT_BYTES:
        return None
    match = _ENVELOPE.fullmatch(body)
    if match is None:
        return None
    actor, kind, ledger, nonce_text, payload_bytes, signature, time_text = match.groups()
    found = _SCHEMAS.get(kind) or _schema(kind)
    nonce, time = int(nonce_text), int(time_text)
    if found is None or nonce > MAX_NONCE or time > MAX_EVENT_TIME:
        return None
    address = _ADDRESSES.get(actor) or _checksummed(actor)
    if address is None:
        return None
    # validate_bounded's bounds: the payload's UTF-8 size is under the body's, its depth is checked here (the
    # envelope adds one level of nesting to the payload's, and parse_event bounds the body's depth)
    if payload_bytes.count(b"[") + payload_bytes.count(b"{") >= MAX_EVENT_DEPTH and (
        nesting_depth(payload_bytes, MAX_EVENT_DEPTH - 1) > MAX_EVENT_DEPTH - 1
    ):
        return None
    try:
        payload_text = payload_bytes.decode("utf-8")
        typed = found.validate(payload_text)
        dumped = found.dump(typed)
        if _encode(dumped) != payload_text:
            return None
    except Exception:  # whatever a schema or the encoder raises: the slow path reports it precisely
        return None
    # the text is the canonical JSON of dumped, so parsing it gives these values with every object's keys
    # sorted: pydantic keeps the text's order inside JSON values and dumps a model's fields in declaration order
    if found.nested:
        payload = _text_order(dumped)
    elif list(dumped) == found.declared:
        payload = {key: dumped[key] for key in found.ordered}
    else:
        payload = {key: dumped[key] for key in sorted(dumped)}
    event = Event.__new__(Event)  # every slot set below: tests/ledger/test_replay.py compares them all
    event.ledger, event.kind, event.actor = ledger.decode("ascii"), kind.decode("ascii"), address
    event.nonce, event.time, event.payload = nonce, time, payload
    event.signature = bytes.fromhex(signature.decode("ascii"))
    event.digest = hashlib.sha256(body[: match.start(6) - _SIGNATURE_PREFIX] + body[match.end(6) + 1 :]).digest()
    event.body, event._typed = body, typed
    return event


def _text_order(value: Any) -> Any:
    """``value`` (JSON data just dumped, not shared) with every object's keys in sorted order, the order
    ``json.loads`` gives for canonical JSON (pydantic dumps a model's fields in declaration order)."""
    if type(value) is dict:
        keys = list(value)
        if keys != sorted(keys):
            value = {key: value[key] for key in sorted(keys)}
        for key, item in value.items():
            if type(item) is dict or type(item) is list:
                value[key] = _text_order(item)
    elif type(value) is list:
        for index, item in enumerate(value):
            if type(item) is dict or type(item) is list:
                value[index] = _text_order(item)
    return value


_ADDRESSES: dict[bytes, Address] = {}
"""Actors already found in EIP-55 form (a ledger has few actors and each checksum costs a keccak)."""
_MAX_ADDRESSES = 65536


def _checksummed(actor: bytes) -> Address | None:
    """``actor`` as an :class:`Address` if it is in EIP-55 checksum form (remembered), else None."""
    address = actor.decode("ascii")
    if not is_checksum_address(address):
        return None
    if len(_ADDRESSES) >= _MAX_ADDRESSES:
        _ADDRESSES.clear()
    _ADDRESSES[actor] = Address(address)
    return _ADDRESSES[actor]


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block when no other thread runs (a replay allocates millions of
    objects that form no cycles, and collections that rescan the growing state cost ~8% of an audit); a process
    with other threads keeps it on. Restored on exit."""
    pause = gc.isenabled() and threading.active_count() == 1
    if pause:
        gc.disable()
    try:
        yield
    finally:
        if pause:
            gc.enable()


__all__ = ["collector_paused", "fast_event"]
