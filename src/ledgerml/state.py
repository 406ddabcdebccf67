"""The one state machine: ``apply(state, event)`` accepts an event into the state or raises a specific error.

State is a set of named tables (``table -> key -> immutable value``). Rules mutate it only through
:meth:`State.put` / :meth:`State.delete`, which keep an undo journal, so a rejected event - or a rejected
batch - leaves the state exactly as it was. Later capabilities add tables and rules with :func:`rule`;
nothing here or in the backends changes. No I/O happens in this module.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from ._canonical import canonical_json
from ._json import loads_bounded
from .errors import (
    DuplicateRegistration,
    InvalidTransition,
    MalformedEvent,
    NonceGap,
    ReplayedNonce,
    SignerMismatch,
    Unauthorized,
    UnknownEventKind,
    UnknownReference,
    WrongLedger,
)
from .events import (
    MAX_EVENT_BYTES,
    DatasetRegistered,
    Event,
    LedgerCreated,
    ModelRegistered,
    Payload,
    RoleGranted,
    RoleRevoked,
)
from .identity import recover_signer
from .types import Address, Role

_MISSING = object()
MAX_BACKDATE_MS = 5 * 60 * 1000
"""How far (ms) an event's time may lie before the latest accepted event's time (writers' clocks differ)."""
MAX_CLOCK_SKEW_MS = 5 * 60 * 1000
"""How far (ms) an event's time may lie ahead of the accepting backend's clock."""
MAX_RECORDS = 2**53
"""Largest record count a dataset may declare (``metadata["records"]``)."""


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
        rows = self.tables.setdefault(table, {})
        if self._journal is not None:
            self._journal.append((table, key, rows.get(key, _MISSING)))
        rows[key] = value

    def delete(self, table: str, key: Any) -> None:
        """Remove ``table[key]`` if present."""
        rows = self.tables.get(table)
        if rows is None or key not in rows:
            return
        if self._journal is not None:
            self._journal.append((table, key, rows[key]))
        del rows[key]

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Run a block of changes all-or-nothing; nests (an inner failure undoes only its own changes)."""
        outer = self._journal is not None
        if not outer:
            self._journal = []
        assert self._journal is not None
        mark = len(self._journal)
        try:
            yield
        except BaseException:
            self._undo_to(mark)
            if not outer:
                self._journal = None
            raise
        if not outer:
            self._journal = None

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
        """``sha256:<hex>`` of the canonical JSON of :meth:`snapshot`: equal states, equal digests."""
        return "sha256:" + hashlib.sha256(canonical_json(self.snapshot())).hexdigest()

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """The whole state as JSON data with sorted keys: equal snapshots mean equal states."""
        return {
            table: {str(key): _jsonable(value) for key, value in sorted(rows.items(), key=lambda kv: str(kv[0]))}
            for table, rows in sorted(self.tables.items())
            if rows
        }


_RECORD_TYPES: dict[str, type] = {}
RecordT = TypeVar("RecordT", bound=type)


def record_type(cls: RecordT) -> RecordT:
    """Class decorator: a frozen dataclass stored in state tables, so checkpoints can rebuild it by name."""
    _RECORD_TYPES[cls.__name__] = cls
    return cls


def _encode(value: Any) -> Any:
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
    import json

    tables = {t: [[_encode(k), _encode(v)] for k, v in rows.items()] for t, rows in sorted(state.tables.items())}
    return json.dumps(tables, sort_keys=True, separators=(",", ":")).encode()


def decode_state(data: bytes) -> State:
    """Rebuild a state written by :func:`encode_state`."""

    state = State()
    for table, rows in loads_bounded(data, what="state checkpoint", max_bytes=1 << 34).items():
        state.tables[table] = {_decode(k): _decode(v) for k, v in rows}
    return state


def _jsonable(value: Any) -> Any:
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


@record_type
@dataclass(frozen=True, slots=True)
class DatasetRecord:
    """A registered dataset."""

    dataset_id: str
    owner: Address
    name: str
    uri: str
    license: str
    consent_note: str
    parents: tuple[str, ...]
    registered_by: str  # id of the registering event
    time: int
    records: int | None = None  # metadata["records"]: bounds the num_examples of updates trained on it


@record_type
@dataclass(frozen=True, slots=True)
class ModelRecord:
    """A registered model and its lineage."""

    model_id: str
    owner: Address
    name: str
    uri: str
    parents: tuple[str, ...]
    datasets: tuple[str, ...]
    metrics_digest: str | None
    attestation_digest: str | None
    task: str | None
    round: int | None
    registered_by: str
    time: int


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


def roles_of(state: State, address: str) -> frozenset[Role]:
    """The roles ``address`` holds."""
    roles: frozenset[Role] = state.get("roles", address, frozenset())
    return roles


def holders_of(state: State, role: Role) -> list[Address]:
    """Every address holding ``role``, sorted."""
    return sorted(address for address, roles in state.rows("roles").items() if role in roles)


def require_role(state: State, actor: str, *allowed: Role) -> None:
    """Raise ``Unauthorized`` unless ``actor`` holds one of ``allowed``."""
    held = roles_of(state, actor)
    if not any(role in held for role in allowed):
        names = " or ".join(role.value for role in allowed)
        raise Unauthorized(f"{actor} needs the {names} role")


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
    if check_signature:
        signer = recover_signer(event.digest, event.signature)
        if signer != event.actor:
            raise SignerMismatch(f"event says actor {event.actor} but was signed by {signer}")
    info = ledger_info(state)
    if info is not None and event.ledger != info.ledger_id:
        raise WrongLedger(f"event is for ledger {event.ledger}, this is ledger {info.ledger_id}")


def apply(state: State, event: Event, *, check_signature: bool = True) -> None:
    """Fold ``event`` into ``state`` or raise the specific rejection; a rejection changes nothing.

    ``check_signature=False`` is only for re-applying events already verified (a writer catching up
    with rows another process appended); audits always check.
    """
    if len(event.body) > MAX_EVENT_BYTES:
        raise MalformedEvent(f"the event body is {len(event.body):,} bytes; at most {MAX_EVENT_BYTES:,} are accepted")
    check_envelope(state, event, check_signature=check_signature)
    info = ledger_info(state)
    expected = next_nonce(state, event.actor)
    if event.nonce < expected:
        raise ReplayedNonce(f"nonce {event.nonce} of {event.actor} was used already (next is {expected})")
    if event.nonce > expected:
        raise NonceGap(f"nonce {event.nonce} of {event.actor} skips ahead (next is {expected})")
    payload = event.typed_payload()
    handler = _RULES.get(event.kind)
    if handler is None:
        raise UnknownEventKind(f"no rule for event kind {event.kind!r}")
    if info is None and event.kind != LedgerCreated.kind:
        raise InvalidTransition(f"the first event of a ledger must be LedgerCreated, got {event.kind}")
    latest = latest_time(state)
    if latest is not None and event.time < latest - MAX_BACKDATE_MS:
        raise InvalidTransition(
            f"event time {event.time} is {latest - event.time} ms before the ledger's latest event time {latest}; "
            f"at most {MAX_BACKDATE_MS} ms of backdating is accepted"
        )
    with state.atomic():
        handler(state, event, payload)
        state.put("nonces", event.actor, expected + 1)
        if latest is None or event.time > latest:
            state.put("meta", "clock", event.time)


def latest_time(state: State) -> int | None:
    """The latest time of any accepted event (``meta``/``clock``), or None before genesis."""
    value: int | None = state.get("meta", "clock")
    return value


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


@rule(LedgerCreated)
def _ledger_created(state: State, event: Event, payload: LedgerCreated) -> None:
    if ledger_info(state) is not None:
        raise DuplicateRegistration("the ledger exists already: LedgerCreated is only valid as the first event")
    if payload.admin != event.actor:
        raise Unauthorized("LedgerCreated must be signed by the admin it names")
    state.put("meta", "ledger", LedgerInfo(event.ledger, payload.name, event.actor, event.time))
    _add_role(state, Address(payload.admin), Role.ADMIN)
    _add_role(state, Address(payload.validator), Role.VALIDATOR)


def _add_role(state: State, subject: Address, role: Role) -> None:
    state.put("roles", subject, roles_of(state, subject) | {role})


@rule(RoleGranted)
def _role_granted(state: State, event: Event, payload: RoleGranted) -> None:
    require_role(state, event.actor, Role.ADMIN)
    if payload.role in roles_of(state, payload.subject):
        raise DuplicateRegistration(f"{payload.subject} holds the {payload.role.value} role already")
    _add_role(state, Address(payload.subject), payload.role)


@rule(RoleRevoked)
def _role_revoked(state: State, event: Event, payload: RoleRevoked) -> None:
    require_role(state, event.actor, Role.ADMIN)
    held = roles_of(state, payload.subject)
    if payload.role not in held:
        raise InvalidTransition(f"{payload.subject} does not hold the {payload.role.value} role")
    if payload.role in (Role.ADMIN, Role.VALIDATOR) and holders_of(state, payload.role) == [payload.subject]:
        raise InvalidTransition(f"cannot revoke the last {payload.role.value}: grant it to another first")
    remaining = held - {payload.role}
    if remaining:
        state.put("roles", payload.subject, remaining)
    else:
        state.delete("roles", payload.subject)


def dataset(state: State, dataset_id: str) -> DatasetRecord | None:
    """The registered dataset ``dataset_id``, if any."""
    record: DatasetRecord | None = state.get("datasets", dataset_id)
    return record


def model(state: State, model_id: str) -> ModelRecord | None:
    """The registered model ``model_id``, if any."""
    record: ModelRecord | None = state.get("models", model_id)
    return record


def _require_known(state: State, table: str, ids: Iterable[str], what: str) -> None:
    for item in ids:
        if state.get(table, item) is None:
            raise UnknownReference(f"{what} {item} is not registered on this ledger")


@rule(DatasetRegistered)
def _dataset_registered(state: State, event: Event, payload: DatasetRegistered) -> None:
    require_role(state, event.actor, Role.DATA_OWNER)
    if dataset(state, payload.dataset_id) is not None:
        raise DuplicateRegistration(f"dataset {payload.dataset_id} is registered already")
    _require_known(state, "datasets", payload.parents, "parent dataset")
    records = payload.metadata.get("records")
    if records is not None and (type(records) is not int or not 0 <= records <= MAX_RECORDS):
        raise MalformedEvent(f"metadata.records must be an integer from 0 to {MAX_RECORDS}, got {records!r}")
    state.put(
        "datasets",
        payload.dataset_id,
        DatasetRecord(
            dataset_id=payload.dataset_id,
            owner=event.actor,
            name=payload.name,
            uri=payload.uri,
            license=payload.license,
            consent_note=payload.consent_note,
            parents=tuple(payload.parents),
            registered_by=event.id,
            time=event.time,
            records=records,
        ),
    )


@rule(ModelRegistered)
def _model_registered(state: State, event: Event, payload: ModelRegistered) -> None:
    require_role(state, event.actor, Role.TRAINER, Role.AGGREGATOR)
    if model(state, payload.model_id) is not None:
        raise DuplicateRegistration(f"model {payload.model_id} is registered already")
    _require_known(state, "models", payload.parents, "parent model")
    _require_known(state, "datasets", payload.datasets, "dataset")
    state.put(
        "models",
        payload.model_id,
        ModelRecord(
            model_id=payload.model_id,
            owner=event.actor,
            name=payload.name,
            uri=payload.uri,
            parents=tuple(payload.parents),
            datasets=tuple(payload.datasets),
            metrics_digest=payload.metrics_digest,
            attestation_digest=payload.attestation_digest,
            task=payload.task,
            round=payload.round,
            registered_by=event.id,
            time=event.time,
        ),
    )


def registered_kinds() -> list[str]:
    """Event kinds that have a rule."""
    return sorted(_RULES)


__all__ = [
    "MAX_BACKDATE_MS",
    "MAX_CLOCK_SKEW_MS",
    "MAX_RECORDS",
    "DatasetRecord",
    "LedgerInfo",
    "ModelRecord",
    "State",
    "apply",
    "check_clock",
    "check_envelope",
    "dataset",
    "fold",
    "holders_of",
    "latest_time",
    "ledger_info",
    "model",
    "next_nonce",
    "registered_kinds",
    "require_role",
    "roles_of",
    "rule",
]

# Later vocabularies register their kinds and rules on import; importing them here keeps the state machine
# complete wherever it runs (a backend, an audit, a standalone replay).
from . import tasks as _tasks  # noqa: E402,F401
from . import tokens as _tokens  # noqa: E402,F401
