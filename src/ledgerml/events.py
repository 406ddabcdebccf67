"""The typed event vocabulary: signed envelopes, pydantic payloads, canonical encoding and digests.

An event is ``{"v", "ledger", "kind", "actor", "nonce", "time", "payload"}``; its *digest* is SHA-256 of
the canonical JSON of those fields and its *signature* is the actor's EIP-191 signature over that digest.
The stored *body* is the same object plus ``"signature"``, canonically encoded; the Merkle log commits to
bodies. The vocabularies (``ledgerml.vocab``) register their kinds with :func:`event_kind` (payload schema) and
``ledgerml.state.rule`` (its rule); this module knows no kind.
"""

from __future__ import annotations

import hashlib
import importlib
import re
import time as _time
from collections.abc import Callable
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from ._canonical import canonical_json
from ._json import loads_bounded
from .errors import MalformedEvent, UnknownEventKind
from .identity import Identity
from .types import Address, Digest, is_checksum_address

EVENT_FORMAT_VERSION = 1
MAX_EVENT_BYTES = 16384
"""Largest event body (canonical JSON, signature included) any backend accepts; the EVM contract's ``MAX_BODY``."""
MAX_EVENT_DEPTH = 32
"""Deepest JSON nesting of an event body."""
MAX_EVENT_TIME = 253_402_300_799_999
"""Latest event time accepted: 9999-12-31T23:59:59.999Z in UNIX milliseconds."""
MAX_NONCE = 2**63 - 1
"""Largest nonce (SQLite's INTEGER range)."""
_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_LEDGER_ID_RE = re.compile(r"^[0-9a-f]{32}$")
_ENVELOPE_KEYS = frozenset({"v", "ledger", "kind", "actor", "nonce", "time", "payload", "signature"})


def _check_address(value: str) -> str:
    if not is_checksum_address(value):
        raise ValueError("must be an EIP-55 checksummed address")
    return value


def _check_digest(value: str) -> str:
    if not _DIGEST_RE.match(value):
        raise ValueError("must be 'sha256:' followed by 64 lowercase hex digits")
    return value


AddressField = Annotated[str, AfterValidator(_check_address)]
DigestField = Annotated[str, AfterValidator(_check_digest)]
ShortText = Annotated[str, Field(max_length=256)]
LongText = Annotated[str, Field(max_length=4096)]


class Payload(BaseModel):
    """Base of every event payload; subclasses are registered with :func:`event_kind`."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: ClassVar[str] = ""


P = TypeVar("P", bound=type[Payload])
PayloadT = TypeVar("PayloadT", bound=Payload)
_PAYLOADS: dict[str, type[Payload]] = {}


def event_kind(kind: str) -> Callable[[P], P]:
    """Class decorator: register a payload schema under ``kind``."""

    def register(cls: P) -> P:
        if kind in _PAYLOADS and _PAYLOADS[kind] is not cls:
            raise ValueError(f"event kind {kind!r} is registered already")
        cls.kind = kind
        _PAYLOADS[kind] = cls
        return cls

    return register


def load_vocabularies() -> None:
    """Import ``ledgerml.vocab`` once, which registers every kind's payload, rule and encoding.

    ``import ledgerml`` stays light (the CLI starts fast), so the vocabularies load on first use instead: every
    lookup of a kind's schema or rule goes through here.
    """
    if not _VOCABULARIES_LOADED:
        importlib.import_module("ledgerml.vocab")
        _VOCABULARIES_LOADED.append(True)


_VOCABULARIES_LOADED: list[bool] = []


def payload_types() -> dict[str, type[Payload]]:
    """Every registered event kind and its payload schema."""
    load_vocabularies()
    return dict(_PAYLOADS)


class Event:
    """A signed event. Immutable; ``digest`` is what was signed, ``body`` is what the log stores."""

    __slots__ = ("_typed", "actor", "body", "digest", "kind", "ledger", "nonce", "payload", "signature", "time")

    def __init__(
        self,
        *,
        ledger: str,
        kind: str,
        actor: Address,
        nonce: int,
        time: int,
        payload: dict[str, Any],
        signature: bytes = b"",
    ) -> None:
        self.ledger = ledger
        self.kind = kind
        self.actor = actor
        self.nonce = nonce
        self.time = time
        self.payload = payload
        self.signature = signature
        signing_bytes = canonical_json(self.unsigned_dict())
        self.digest: bytes = hashlib.sha256(signing_bytes).digest()
        # The body is the same object plus "signature", which sorts between "payload" and "time"; splice it
        # in before the top-level "time" key (searched from the right: nothing after it holds a string).
        cut = signing_bytes.rindex(b',"time":')
        self.body: bytes = b'%s,"signature":"0x%s"%s' % (
            signing_bytes[:cut],
            signature.hex().encode(),
            signing_bytes[cut:],
        )
        self._typed: Payload | None = None

    def unsigned_dict(self) -> dict[str, Any]:
        """The signed fields as a plain dict (no signature)."""
        return {
            "v": EVENT_FORMAT_VERSION,
            "ledger": self.ledger,
            "kind": self.kind,
            "actor": self.actor,
            "nonce": self.nonce,
            "time": self.time,
            "payload": self.payload,
        }

    def to_dict(self) -> dict[str, Any]:
        """The event as JSON data, signature included."""
        return {**self.unsigned_dict(), "signature": "0x" + self.signature.hex()}

    @property
    def event_digest(self) -> Digest:
        """The signed digest as a :class:`Digest`."""
        return Digest("sha256", self.digest)

    @property
    def id(self) -> str:
        """The event's identifier: ``sha256:<digest hex>``."""
        return "sha256:" + self.digest.hex()

    def typed_payload(self) -> Payload:
        """The payload validated against its kind's schema; raises ``UnknownEventKind``/``MalformedEvent``."""
        if self._typed is None:
            self._typed = validate_payload(self.kind, self.payload, canonical=self._payload_json())
        return self._typed

    def _payload_json(self) -> bytes:
        """The payload's canonical JSON, cut from the body (which this class always encodes canonically)."""
        marker = b'"ledger":"%s","nonce":%d,"payload":' % (self.ledger.encode(), self.nonce)
        return self.body[self.body.index(marker) + len(marker) : self.body.rindex(b',"signature":"0x')]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Event) and self.body == other.body

    def __hash__(self) -> int:
        return hash(self.body)

    def __repr__(self) -> str:
        return f"Event({self.kind}, actor={self.actor}, nonce={self.nonce}, id={self.id[:19]}...)"


def validate_payload(kind: str, payload: dict[str, Any], *, canonical: bytes | None = None) -> Payload:
    """Validate ``payload`` for ``kind``; the payload must also be in canonical form (defaults explicit).

    ``canonical`` is ``canonical_json(payload)`` when the caller has it already (an event's body holds it)."""
    schema = _PAYLOADS.get(kind)
    if schema is None:
        load_vocabularies()
        schema = _PAYLOADS.get(kind)
    if schema is None:
        raise UnknownEventKind(f"unknown event kind {kind!r}")
    try:
        typed = schema.model_validate(payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(payload)'}: {err['msg']}" for err in exc.errors()
        )
        raise MalformedEvent(f"{kind} payload is malformed: {problems}") from None
    if canonical_json(typed.model_dump(mode="json")) != (canonical_json(payload) if canonical is None else canonical):
        raise MalformedEvent(
            f"{kind} payload is not in canonical form: give every field with its exact JSON type "
            "(build payloads with the pydantic model and model_dump(mode='json'))"
        )
    return typed


def build_payload(payload_type: type[PayloadT], what: str | None = None, **fields: Any) -> PayloadT:
    """``payload_type(**fields)`` from values given from outside; one its schema refuses is a one-line
    ``MalformedEvent`` naming ``what`` (by default the kind) and the field, not pydantic's multi-line error."""
    try:
        return payload_type(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "payload"
        raise MalformedEvent(f"{what or payload_type.kind}: {where}: {first.get('msg', 'invalid')}") from None


def sign_event(
    identity: Identity,
    ledger_id: str,
    payload: Payload,
    nonce: int,
    *,
    time_ms: int | None = None,
) -> Event:
    """Build and sign an event carrying ``payload`` as ``identity``; the payload is validated first.

    The caller's object is not trusted as it is (``model_construct`` skips validation): its JSON form is
    validated against the kind's schema, so an invalid payload is ``MalformedEvent`` before anything is signed.
    """
    if not isinstance(payload, Payload) or not payload.kind:
        raise MalformedEvent(f"a payload must be a registered event payload, got {type(payload).__name__}")
    try:
        data = payload.model_dump(mode="json")
    except Exception as exc:  # a model_construct object with missing or unserialisable fields
        raise MalformedEvent(f"{payload.kind} payload cannot be serialised: {str(exc).splitlines()[0]}") from None
    typed = validate_payload(payload.kind, data)
    unsigned = Event(
        ledger=ledger_id,
        kind=payload.kind,
        actor=identity.address,
        nonce=nonce,
        time=now_ms() if time_ms is None else time_ms,
        payload=data,
    )
    signed = Event(
        ledger=ledger_id,
        kind=unsigned.kind,
        actor=unsigned.actor,
        nonce=nonce,
        time=unsigned.time,
        payload=unsigned.payload,
        signature=identity.sign_digest(unsigned.digest),
    )
    signed._typed = typed
    return signed


def now_ms() -> int:
    """Current UNIX time in milliseconds, the unit of every ledger timestamp."""
    return int(_time.time() * 1000)


def event_from_dict(data: Any) -> Event:
    """Build an :class:`Event` from JSON data, checking the envelope (not the payload or signature)."""
    if not isinstance(data, dict):
        raise MalformedEvent("an event must be a JSON object")
    keys = set(data)
    if keys != _ENVELOPE_KEYS:
        missing = sorted(_ENVELOPE_KEYS - keys)
        extra = sorted(keys - _ENVELOPE_KEYS)
        raise MalformedEvent(f"event envelope fields wrong: missing {missing}, unexpected {extra}")
    if data["v"] != EVENT_FORMAT_VERSION or type(data["v"]) is not int:
        raise MalformedEvent(f"unsupported event format version {data['v']!r}")
    ledger, kind, actor = data["ledger"], data["kind"], data["actor"]
    if not isinstance(ledger, str) or not _LEDGER_ID_RE.match(ledger):
        raise MalformedEvent("ledger must be a 32-hex-digit ledger id")
    if not isinstance(kind, str) or not kind:
        raise MalformedEvent("kind must be a non-empty string")
    if not is_checksum_address(actor):
        raise MalformedEvent(f"actor must be an EIP-55 checksummed address, got {actor!r}")
    for field, largest in (("nonce", MAX_NONCE), ("time", MAX_EVENT_TIME)):
        if type(data[field]) is not int or not 0 <= data[field] <= largest:
            raise MalformedEvent(f"{field} must be an integer from 0 to {largest}")
    if not isinstance(data["payload"], dict):
        raise MalformedEvent("payload must be a JSON object")
    signature = data["signature"]
    if not isinstance(signature, str) or not re.fullmatch(r"0x[0-9a-f]{130}", signature):
        raise MalformedEvent("signature must be 0x followed by 130 lowercase hex digits (65 bytes)")
    return Event(
        ledger=ledger,
        kind=kind,
        actor=Address(actor),
        nonce=data["nonce"],
        time=data["time"],
        payload=data["payload"],
        signature=bytes.fromhex(signature[2:]),
    )


def parse_event(body: bytes | str) -> Event:
    """Parse a stored or transmitted event; it must be valid JSON in canonical form."""
    raw = body.encode() if isinstance(body, str) else body
    data = loads_bounded(raw, what="event", max_bytes=MAX_EVENT_BYTES, max_depth=MAX_EVENT_DEPTH)
    event = event_from_dict(data)
    if event.body != raw:
        raise MalformedEvent("event is not in canonical form (sorted keys, no whitespace)")
    return event


__all__ = [
    "EVENT_FORMAT_VERSION",
    "MAX_EVENT_BYTES",
    "MAX_EVENT_DEPTH",
    "MAX_EVENT_TIME",
    "MAX_NONCE",
    "Event",
    "Payload",
    "build_payload",
    "event_from_dict",
    "event_kind",
    "load_vocabularies",
    "now_ms",
    "parse_event",
    "payload_types",
    "sign_event",
    "validate_payload",
]
