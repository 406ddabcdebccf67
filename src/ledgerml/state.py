"""The one state machine: ``apply(state, event)`` accepts an event into the state or raises a specific error.

State is a set of named tables (``table -> key -> immutable value``). Rules mutate it only through
:meth:`State.put` / :meth:`State.delete`, which keep an undo journal, so a rejected event - or a rejected
batch - leaves the state exactly as it was. The vocabularies (``ledgerml.vocab``) add tables, records
and rules with :func:`record_type` and :func:`rule`; this module holds only the machine and knows no kind. No I/O.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from json.encoder import encode_basestring, encode_basestring_ascii
from typing import Any, TypeVar

from ._canonical import canonical_json, canonical_text, canonical_written
from ._json import loads_bounded
from .errors import (
    InvalidTransition,
    MalformedEvent,
    NonceGap,
    ReplayedNonce,
    SignerMismatch,
    UnknownEventKind,
    WrongLedger,
)
from .events import MAX_EVENT_BYTES, Event, Payload, load_vocabularies
from .identity import recover_signer
from .types import Address, Role

_MISSING = object()
GENESIS_KIND = "LedgerCreated"
"""The kind every ledger's first event has (``ledgerml.vocab.core.LedgerCreated``)."""
MAX_BACKDATE_MS = 5 * 60 * 1000
"""How far (ms) an event's time may lie before the latest accepted event's time (writers' clocks differ)."""
MAX_CLOCK_SKEW_MS = 5 * 60 * 1000
"""How far (ms) an event's time may lie ahead of the accepting backend's clock."""
MAX_RECORDS = 2**53
"""Largest record count a dataset may declare (``metadata["records"]``)."""


class _TrialOver(Exception):
    """Ends a :meth:`State.trial` block so that its transaction is undone."""


class State:
    """Ledger state as named tables of immutable values, with an undo journal for atomic changes."""

    __slots__ = ("_journal", "tables")

    def __init__(self) -> None:
        self.tables: dict[str, dict[Any, Any]] = {}
        self._journal: list[tuple[str, Any, Any]] | None = None

    def get(self, table: str, key: Any, default: Any = None) -> Any:
        """The value at ``table[key]``, or ``default``."""
        rows = self.tables.get(table)
        return default if rows is None else rows.get(key, default)

    def rows(self, table: str) -> dict[Any, Any]:
        """A read-only view of one table (do not mutate it)."""
        return self.tables.get(table, {})

    def put(self, table: str, key: Any, value: Any) -> None:
        """Set ``table[key] = value`` (values must be immutable)."""
        rows = self.tables.get(table)
        if rows is None:  # not setdefault: that builds a dict on every call, and this runs for every event
            rows = self.tables[table] = {}
        journal = self._journal
        if journal is not None:
            journal.append((table, key, rows.get(key, _MISSING)))
        rows[key] = value

    def delete(self, table: str, key: Any) -> None:
        """Remove ``table[key]`` if present."""
        rows = self.tables.get(table)
        if rows is None or key not in rows:
            return
        if self._journal is not None:
            self._journal.append((table, key, rows[key]))
        del rows[key]

    def atomic(self) -> _Atomic:
        """Run a block of changes all-or-nothing; nests (an inner failure undoes only its own changes)."""
        return _Atomic(self)

    @contextmanager
    def trial(self) -> Iterator[None]:
        """Run a block of changes and always undo them; what the block raises still propagates (a dry run)."""
        with suppress(_TrialOver), self.atomic():
            yield
            raise _TrialOver

    def _undo_to(self, mark: int) -> None:
        journal = self._journal
        assert journal is not None
        while len(journal) > mark:
            table, key, old = journal.pop()
            rows = self.tables.setdefault(table, {})
            if old is _MISSING:
                rows.pop(key, None)
            else:
                rows[key] = old

    def digest(self) -> str:
        """``sha256:<hex>`` of the canonical JSON of :meth:`snapshot`: equal states, equal digests.

        Built without the snapshot's row sorting: canonical JSON sorts every object's keys anyway, and where two
        keys print alike the later row wins in both (the sort is stable). The text is written by
        :func:`_digest_text`, the canonical JSON of each value's :func:`_jsonable` form without building it."""
        tables = {table: rows for table, rows in self.tables.items() if rows}
        if not all(type(table) is str for table in tables):  # not a state the rules build: the general encoder
            data = {
                table: {str(key): _jsonable(value) for key, value in rows.items()} for table, rows in tables.items()
            }
            return "sha256:" + hashlib.sha256(canonical_json(data)).hexdigest()
        keyed = {table: {str(key): value for key, value in rows.items()} for table, rows in tables.items()}
        return "sha256:" + hashlib.sha256(canonical_written(lambda: _digest_document(keyed))).hexdigest()

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """The whole state as JSON data with sorted keys: equal snapshots mean equal states."""
        return {
            table: {str(key): _jsonable(value) for key, value in sorted(rows.items(), key=lambda kv: str(kv[0]))}
            for table, rows in sorted(self.tables.items())
            if rows
        }


class _Atomic:
    """The context manager of :meth:`State.atomic` (a class: it runs once per applied event)."""

    __slots__ = ("mark", "outer", "state")

    def __init__(self, state: State) -> None:
        self.state, self.outer, self.mark = state, False, 0

    def __enter__(self) -> None:
        state = self.state
        self.outer = state._journal is not None
        if state._journal is None:
            state._journal = []
        self.mark = len(state._journal)

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is not None:
            self.state._undo_to(self.mark)
        if not self.outer:
            self.state._journal = None


_RECORD_TYPES: dict[str, type] = {}
RecordT = TypeVar("RecordT", bound=type)


def record_type(cls: RecordT) -> RecordT:
    """Class decorator: a frozen dataclass stored in state tables, so checkpoints can rebuild it by name."""
    _RECORD_TYPES[cls.__name__] = cls
    return cls


_PLAIN = frozenset({str, int, float, bool, type(None)})
"""Types a checkpoint and a snapshot both write as they are (exact types: subclasses take the general path)."""


def _encode(value: Any) -> Any:
    cls = type(value)
    if cls in _PLAIN:
        return value
    if cls is tuple:
        return {"$t": [v if type(v) in _PLAIN else _encode(v) for v in value]}
    record = _RECORD_ENCODERS.get(cls)
    if record is not None:
        return record(value)
    if cls.__name__ in _RECORD_TYPES and not isinstance(value, str | int | float):
        record = _RECORD_ENCODERS[cls] = _compiled(cls, cls.__name__, _encode)
        return record(value)
    return _encode_general(value)


_RECORD_ENCODERS: dict[type, Callable[[Any], Any]] = {}
"""Each record class :func:`_encode` met, with its compiled encoder (one dict lookup, no loop, per value)."""


def _compiled(cls: type, tag: str | None, inner: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A function writing a dataclass value's fields in order, each as it is if of a plain type else by ``inner``:
    as ``{"$r": tag, "v": [...]}`` (a checkpoint's record), or with ``tag`` None as ``{name: value}``. Compiled
    once per class, as ``dataclasses`` compiles ``__init__``: the values of a loop over the fields, no loop."""
    names = tuple(cls.__dataclass_fields__)  # type: ignore[attr-defined]  # identifiers: dataclass checks them
    values = [f"_{i} if type(_{i}) in plain else inner(_{i})" for i in range(len(names))]
    if tag is None:
        shape = "{" + ", ".join(f"{name!r}: {value}" for name, value in zip(names, values, strict=True)) + "}"
    else:
        shape = "{'$r': " + repr(tag) + ", 'v': [" + ", ".join(values) + "]}"
    loads = "".join(f"    _{i} = v.{name}\n" for i, name in enumerate(names))
    scope: dict[str, Any] = {"plain": _PLAIN, "inner": inner}
    exec(compile(f"def write(v):\n{loads}    return {shape}\n", f"<{cls.__name__} writer>", "exec"), scope)
    write: Callable[[Any], Any] = scope["write"]
    return write


def _encode_general(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Role):
        return {"$role": value.value}
    if isinstance(value, str):
        return value
    if type(value).__name__ in _RECORD_TYPES:
        return {"$r": type(value).__name__, "v": [_encode(getattr(value, n)) for n in type(value).__dataclass_fields__]}
    if isinstance(value, frozenset):
        return {"$fs": sorted((_encode(v) for v in value), key=repr)}
    if isinstance(value, tuple):
        return {"$t": [_encode(v) for v in value]}
    raise TypeError(f"cannot checkpoint a {type(value).__name__} in the state")


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "$role" in value:
            return Role(value["$role"])
        if "$r" in value:
            return _RECORD_TYPES[value["$r"]](*(_decode(v) for v in value["v"]))
        if "$fs" in value:
            return frozenset(_decode(v) for v in value["$fs"])
        if "$t" in value:
            return tuple(_decode(v) for v in value["$t"])
        raise ValueError(f"unknown checkpoint value {value!r}")
    return value


def encode_state(state: State) -> bytes:
    """The whole state as tagged JSON (records by type name, tuples, frozensets, roles), for checkpoints."""
    return CheckpointEncoder().encode(state)


class CheckpointEncoder:
    """:func:`encode_state`, reusing between calls the JSON of every chunk of rows whose keys and values are the
    same objects as at the previous call (values are immutable), so an audit's successive checkpoint compares
    encode each row about once instead of the whole state each time. Same bytes as :func:`encode_state`."""

    __slots__ = ("_chunks",)

    def __init__(self) -> None:
        self._chunks: dict[str, list[tuple[list[Any], list[Any], str]]] = {}

    def encode(self, state: State) -> bytes:
        """The checkpoint bytes of ``state`` (JSON-encoded a slice of rows at a time, as one ``json.dumps``)."""
        import json

        parts = []
        for table, rows in sorted(state.tables.items()):
            keys, values = list(rows), list(rows.values())
            cached = self._chunks.get(table, [])
            fresh = []
            for n, start in enumerate(range(0, len(keys), _CHUNK_ROWS)):
                chunk_keys, chunk_values = keys[start : start + _CHUNK_ROWS], values[start : start + _CHUNK_ROWS]
                if n < len(cached) and _same_objects(cached[n], chunk_keys, chunk_values):
                    text = cached[n][2]
                else:  # json.dumps(pairs, **_DUMPS)[1:-1] of the rows' [_encode(k), _encode(v)], written directly
                    write, get = _checkpoint_text, _CHECKPOINT_TEXT.get  # the class's writer, looked up inline
                    text = ",".join(
                        [
                            f"[{(get(type(k)) or write)(k)},{(get(type(v)) or write)(v)}]"
                            for k, v in zip(chunk_keys, chunk_values, strict=True)
                        ]
                    )
                fresh.append((chunk_keys, chunk_values, text))
            self._chunks[table] = fresh
            parts.append(json.dumps(table) + ":[" + ",".join(chunk[2] for chunk in fresh) + "]")
        return ("{" + ",".join(parts) + "}").encode()


def _same_objects(cached: tuple[list[Any], list[Any], str], keys: list[Any], values: list[Any]) -> bool:
    """Whether a cached chunk holds exactly these key and value objects, in this order."""
    return (
        len(cached[0]) == len(keys)
        and all(map(operator.is_, cached[0], keys))
        and all(map(operator.is_, cached[1], values))
    )


_CHUNK_ROWS = 1024
_DUMPS: dict[str, Any] = {"sort_keys": True, "separators": (",", ":")}


# -- JSON text of state values, written directly (the digest's and the checkpoints' hot loops) ----------------
#
# JSON encoding is compositional: the text the C encoder writes for a document is its texts for the parts, in
# order, joined by the separators. So each value's text can be written on its own: plain values, tuples and
# records by the functions below (one per record class, compiled like the writers above), and anything else by
# the same encoder as before on the same data, so the bytes cannot differ (tests/ledger/test_state_encoding.py).

Text = Callable[[Any], str]


def _digest_document(keyed: dict[str, dict[str, Any]]) -> str:
    """``canonical_text`` of ``{table: {key: _jsonable(value)}}`` (tables and keys already strings)."""
    write, get, key_text = _digest_text, _DIGEST_TEXT.get, encode_basestring  # the class's writer, looked up inline
    tables = [
        key_text(table)
        + ":{"
        + ",".join([f"{key_text(key)}:{(get(type(value := rows[key])) or write)(value)}" for key in sorted(rows)])
        + "}"
        for table, rows in sorted(keyed.items())
    ]
    return "{" + ",".join(tables) + "}"


def _digest_text(value: Any) -> str:
    """``canonical_text(_jsonable(value))``."""
    write = _DIGEST_TEXT.get(type(value))
    if write is None:
        write = _DIGEST_TEXT[type(value)] = _text_writer(type(value), _jsonable_text, None)
    return write(value)


def _jsonable_text(value: Any) -> str:
    return canonical_text(_jsonable(value))


def _checkpoint_text(value: Any) -> str:
    """``json.dumps(_encode(value), **_DUMPS)``."""
    write = _CHECKPOINT_TEXT.get(type(value))
    if write is None:
        write = _CHECKPOINT_TEXT[type(value)] = _text_writer(type(value), _encoded_text, "checkpoint")
    return write(value)


def _encoded_text(value: Any) -> str:
    import json

    return json.dumps(_encode(value), **_DUMPS)


def _text_writer(cls: type, general: Text, tag: str | None) -> Text:
    """The text function of values of class ``cls``: the record writer of a record class (the digest's: any
    dataclass not a str/int/float, as ``_jsonable``; a checkpoint's: the registered records, as ``_encode``), the
    string writer of other ``str`` subclasses (both pass them through), else ``general``."""
    plain = (str, int, float)
    if tag is None and hasattr(cls, "__dataclass_fields__") and not issubclass(cls, plain):
        return _compiled_text(cls, None, _digest_text, _DIGEST_TEXT)
    if tag is not None and cls.__name__ in _RECORD_TYPES and not issubclass(cls, plain):
        return _compiled_text(cls, cls.__name__, _checkpoint_text, _CHECKPOINT_TEXT)
    if issubclass(cls, str) and not issubclass(cls, Role):
        return encode_basestring if tag is None else encode_basestring_ascii
    return general


def _compiled_text(cls: type, tag: str | None, inner: Text, table: dict[type, Text]) -> Text:
    """The JSON text of a record value written field by field: ``{"name": value}`` in sorted name order (the
    digest), or ``{"$r": tag, "v": [values]}`` in field order (a checkpoint), each value by its class's function
    in ``table`` (looked up inline: no call per field; ``table[str]`` for a ``str``), else by ``inner``."""
    names = tuple(cls.__dataclass_fields__)  # type: ignore[attr-defined]  # identifiers: dataclass checks them
    index = {name: i for i, name in enumerate(names)}
    loads = "".join(f"    _{i} = v.{name}\n" for i, name in enumerate(names))
    if tag is None:
        parts = [f"{encode_basestring(name)}:{{{_field(index[name])}}}" for name in sorted(names)]
        shape = "{{" + ",".join(parts) + "}}"
    else:
        parts = [f"{{{_field(i)}}}" for i in range(len(names))]
        shape = f'{{{{"$r":{encode_basestring_ascii(tag)},"v":[' + ",".join(parts) + "]}}"
    scope: dict[str, Any] = {"inner": inner, "get": table.get, "text": table[str]}
    exec(compile(f"def write(v):\n{loads}    return f{shape!r}\n", f"<{cls.__name__} text writer>", "exec"), scope)
    write: Text = scope["write"]
    return write


def _field(i: int) -> str:
    """The expression writing field ``_i``: a ``str`` directly (most fields are), else by its class's function."""
    return f"(text(_{i}) if type(_{i}) is str else (get(type(_{i})) or inner)(_{i}))"


def _bool_text(value: bool) -> str:
    return "true" if value else "false"


def _none_text(value: None) -> str:
    return "null"


def _digest_tuple(value: tuple[Any, ...]) -> str:
    return "[" + ",".join([_digest_text(item) for item in value]) + "]"


def _checkpoint_tuple(value: tuple[Any, ...]) -> str:
    return '{"$t":[' + ",".join([_checkpoint_text(item) for item in value]) + "]}"


_DIGEST_TEXT: dict[type, Text] = {
    str: encode_basestring,
    int: int.__repr__,
    bool: _bool_text,
    type(None): _none_text,
    tuple: _digest_tuple,
}
"""Each class :func:`_digest_text` met, with its text function (floats and the rest: the encoder)."""
_CHECKPOINT_TEXT: dict[type, Text] = {
    str: encode_basestring_ascii,
    int: int.__repr__,
    bool: _bool_text,
    type(None): _none_text,
    tuple: _checkpoint_tuple,
}
"""Each class :func:`_checkpoint_text` met, with its text function."""


def decode_state(data: bytes) -> State:
    """Rebuild a state written by :func:`encode_state`."""

    state = State()
    for table, rows in loads_bounded(data, what="state checkpoint", max_bytes=1 << 34).items():
        state.tables[table] = {_decode(k): _decode(v) for k, v in rows}
    return state


def _jsonable(value: Any) -> Any:
    cls = type(value)
    if cls in _PLAIN:
        return value
    plan = _RECORD_PLANS.get(cls)
    if plan is not None:
        return plan(value)
    if cls is tuple:
        return [v if type(v) in _PLAIN else _jsonable(v) for v in value]
    if hasattr(cls, "__dataclass_fields__") and not isinstance(value, str | int | float):
        _RECORD_PLANS[cls] = _compiled(cls, None, _jsonable)
        return _jsonable(value)
    return _jsonable_general(value)


_RECORD_PLANS: dict[type, Callable[[Any], Any]] = {}
"""Dataclasses :func:`_jsonable` met, with their compiled field-name-to-value dict builders (one lookup each)."""


def _jsonable_general(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float):
        return value
    names = getattr(type(value), "__dataclass_fields__", None)
    if names is not None:
        return {name: _jsonable(getattr(value, name)) for name in names}
    if isinstance(value, frozenset | set):
        return sorted(_jsonable(v) for v in value)
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


# -- records kept in the core tables -------------------------------------------------------------------


@record_type
@dataclass(frozen=True, slots=True)
class LedgerInfo:
    """The ``meta`` table's ``ledger`` row: who created the ledger and what it is called."""

    ledger_id: str
    name: str
    creator: Address
    created: int


# -- rules -------------------------------------------------------------------------------------------

PayloadT = TypeVar("PayloadT", bound=Payload)
Rule = Callable[[State, Event, Any], None]
_RULES: dict[str, Rule] = {}


def rule(payload_type: type[PayloadT]) -> Callable[[Callable[[State, Event, PayloadT], None]], Rule]:
    """Register the rule for one event kind. A rule validates first, then mutates through ``State.put``."""

    def register(fn: Callable[[State, Event, PayloadT], None]) -> Rule:
        kind = payload_type.kind
        if kind in _RULES:
            raise ValueError(f"a rule for {kind!r} is registered already")
        _RULES[kind] = fn
        return fn

    return register


def ledger_info(state: State) -> LedgerInfo | None:
    """The ledger's genesis information, or None before genesis."""
    info: LedgerInfo | None = state.get("meta", "ledger")
    return info


def next_nonce(state: State, address: str) -> int:
    """The nonce ``address`` must use for its next event."""
    nonce: int = state.get("nonces", address, 0)
    return nonce


def check_envelope(state: State, event: Event, *, check_signature: bool = True) -> None:
    """Raise unless ``event`` is signed by its actor and belongs to this state's ledger (no rule runs)."""
    _checked_envelope(state, event, check_signature)


def _checked_envelope(state: State, event: Event, check_signature: bool) -> LedgerInfo | None:
    """:func:`check_envelope`, returning the ledger's genesis information it read (None before genesis)."""
    if check_signature:
        signer = recover_signer(event.digest, event.signature)
        if signer != event.actor:
            raise SignerMismatch(f"event says actor {event.actor} but was signed by {signer}")
    meta = state.tables.get("meta")
    info: LedgerInfo | None = None if meta is None else meta.get("ledger")
    if info is not None and event.ledger != info.ledger_id:
        raise WrongLedger(f"event is for ledger {event.ledger}, this is ledger {info.ledger_id}")
    return info


def apply(state: State, event: Event, *, check_signature: bool = True) -> None:
    """Fold ``event`` into ``state`` or raise the specific rejection; a rejection changes nothing.

    ``check_signature=False`` is only for re-applying events already verified (a writer catching up
    with rows another process appended); audits always check.
    """
    if len(event.body) > MAX_EVENT_BYTES:
        raise MalformedEvent(f"the event body is {len(event.body):,} bytes; at most {MAX_EVENT_BYTES:,} are accepted")
    info = _checked_envelope(state, event, check_signature)
    nonces = state.tables.get("nonces")
    expected: int = 0 if nonces is None else nonces.get(event.actor, 0)
    if event.nonce < expected:
        raise ReplayedNonce(f"nonce {event.nonce} of {event.actor} was used already (next is {expected})")
    if event.nonce > expected:
        raise NonceGap(f"nonce {event.nonce} of {event.actor} skips ahead (next is {expected})")
    payload = event.typed_payload()  # cached when a replay's fast parse validated it already
    handler = _RULES.get(event.kind) or rule_for(event.kind)
    if info is None and event.kind != GENESIS_KIND:
        raise InvalidTransition(f"the first event of a ledger must be LedgerCreated, got {event.kind}")
    latest = latest_time(state)
    if latest is not None and event.time < latest - MAX_BACKDATE_MS:
        check_backdating(state, event)
    journal = state._journal
    if journal is None:  # the outermost change: State.atomic() inlined (it runs once per applied event)
        state._journal = journal = []
        try:
            _fold(state, event, handler, payload, expected, latest)
        except BaseException:
            state._undo_to(0)
            raise
        finally:
            state._journal = None
        return
    with state.atomic():
        _fold(state, event, handler, payload, expected, latest)


def _fold(state: State, event: Event, handler: Rule, payload: Any, expected: int, latest: int | None) -> None:
    """Run the kind's rule, then count the nonce and advance the clock (inside ``apply``'s atomic block)."""
    handler(state, event, payload)
    state.put("nonces", event.actor, expected + 1)
    if latest is None or event.time > latest:
        state.put("meta", "clock", event.time)


def latest_time(state: State) -> int | None:
    """The latest time of any accepted event (``meta``/``clock``), or None before genesis."""
    value: int | None = state.get("meta", "clock")
    return value


def check_backdating(state: State, event: Event) -> None:
    """Raise unless ``event.time`` is at most :data:`MAX_BACKDATE_MS` before the latest accepted event's time."""
    latest = latest_time(state)
    if latest is not None and event.time < latest - MAX_BACKDATE_MS:
        raise InvalidTransition(
            f"event time {event.time} is {latest - event.time} ms before the ledger's latest event time {latest}; "
            f"at most {MAX_BACKDATE_MS} ms of backdating is accepted"
        )


def check_clock(event: Event, now: int) -> None:
    """Raise unless ``event.time`` is at most :data:`MAX_CLOCK_SKEW_MS` ahead of the accepting backend's ``now``."""
    if event.time > now + MAX_CLOCK_SKEW_MS:
        raise InvalidTransition(
            f"event time {event.time} is {event.time - now} ms ahead of this ledger's clock; "
            f"at most {MAX_CLOCK_SKEW_MS} ms is accepted"
        )


def fold(events: Iterable[Event], state: State | None = None, *, check_signature: bool = True) -> State:
    """Apply ``events`` in order to ``state`` (a new one by default) and return it."""
    state = State() if state is None else state
    for event in events:
        apply(state, event, check_signature=check_signature)
    return state


def rule_for(kind: str) -> Rule:
    """The rule registered for ``kind``, the vocabularies loaded first if need be (``UnknownEventKind`` if none)."""
    found = _RULES.get(kind)
    if found is None:
        load_vocabularies()
        found = _RULES.get(kind)
    if found is None:
        raise UnknownEventKind(f"no rule for event kind {kind!r}")
    return found


def registered_kinds() -> list[str]:
    """Event kinds that have a rule."""
    load_vocabularies()
    return sorted(_RULES)


__all__ = [
    "MAX_BACKDATE_MS",
    "MAX_CLOCK_SKEW_MS",
    "MAX_RECORDS",
    "LedgerInfo",
    "State",
    "apply",
    "check_backdating",
    "check_clock",
    "check_envelope",
    "fold",
    "latest_time",
    "ledger_info",
    "next_nonce",
    "registered_kinds",
    "rule",
    "rule_for",
]
