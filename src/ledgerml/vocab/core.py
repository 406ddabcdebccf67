"""The core vocabulary: genesis, roles, datasets and models - payloads, state records, rules and read helpers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import Field, JsonValue

from ..errors import DuplicateRegistration, InvalidTransition, MalformedEvent, Unauthorized, UnknownReference
from ..events import AddressField, DigestField, Event, LongText, Payload, ShortText, event_kind
from ..state import MAX_RECORDS, LedgerInfo, State, ledger_info, record_type, rule
from ..types import Address, Role
from ._gate import require_approval
from .evm import ROLE_BITS, Call, digest32, evm_call, not_on_chain


@event_kind("LedgerCreated")
class LedgerCreated(Payload):
    """Genesis: the first event of every ledger, signed by its creator, who becomes admin."""

    name: ShortText
    admin: AddressField
    validator: AddressField


@event_kind("RoleGranted")
class RoleGranted(Payload):
    """An admin grants ``role`` to ``subject``."""

    subject: AddressField
    role: Role


@event_kind("RoleRevoked")
class RoleRevoked(Payload):
    """An admin revokes ``role`` from ``subject``."""

    subject: AddressField
    role: Role


@event_kind("DatasetRegistered")
class DatasetRegistered(Payload):
    """A data owner registers a dataset by the digest of its manifest; the actor is the owner."""

    dataset_id: DigestField
    name: ShortText
    uri: LongText = ""
    license: ShortText = ""
    consent_note: LongText = ""
    parents: list[DigestField] = Field(default_factory=list, max_length=256)
    metadata: dict[str, JsonValue] = Field(default_factory=dict)


@event_kind("ModelRegistered")
class ModelRegistered(Payload):
    """A trainer or aggregator registers a model artifact with its lineage."""

    model_id: DigestField
    name: ShortText
    uri: LongText = ""
    parents: list[DigestField] = Field(default_factory=list, max_length=256)
    datasets: list[DigestField] = Field(default_factory=list, max_length=1024)
    metrics_digest: DigestField | None = None
    attestation_digest: DigestField | None = None
    task: ShortText | None = None
    round: int | None = Field(default=None, ge=0)
    metadata: dict[str, JsonValue] = Field(default_factory=dict)


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


# -- roles ------------------------------------------------------------------------------------------


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
    for role in allowed:  # a loop, not any(): this runs for most events
        if role in held:
            return
    names = " or ".join(role.value for role in allowed)
    raise Unauthorized(f"{actor} needs the {names} role")


# -- rules ------------------------------------------------------------------------------------------


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
    require_approval(state, RoleGranted.kind)
    require_role(state, event.actor, Role.ADMIN)
    if payload.role in roles_of(state, payload.subject):
        raise DuplicateRegistration(f"{payload.subject} holds the {payload.role.value} role already")
    _add_role(state, Address(payload.subject), payload.role)


@rule(RoleRevoked)
def _role_revoked(state: State, event: Event, payload: RoleRevoked) -> None:
    require_approval(state, RoleRevoked.kind)
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


def declared_records(payload: DatasetRegistered) -> int | None:
    """``metadata["records"]``: None when absent; ``MalformedEvent`` unless an integer 0 ... ``MAX_RECORDS``."""
    records = payload.metadata.get("records")
    if records is not None and (type(records) is not int or not 0 <= records <= MAX_RECORDS):
        raise MalformedEvent(f"metadata.records must be an integer from 0 to {MAX_RECORDS}, got {records!r}")
    return records


@rule(DatasetRegistered)
def _dataset_registered(state: State, event: Event, payload: DatasetRegistered) -> None:
    require_role(state, event.actor, Role.DATA_OWNER)
    if dataset(state, payload.dataset_id) is not None:
        raise DuplicateRegistration(f"dataset {payload.dataset_id} is registered already")
    if payload.parents:
        _require_known(state, "datasets", payload.parents, "parent dataset")
    records = declared_records(payload)
    state.put(
        "datasets",
        payload.dataset_id,
        DatasetRecord(  # positional, in field order (cheaper than keywords; this runs for every registration)
            payload.dataset_id,
            event.actor,
            payload.name,
            payload.uri,
            payload.license,
            payload.consent_note,
            tuple(payload.parents),
            event.id,
            event.time,
            records,
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


# -- EVM encodings ----------------------------------------------------------------------------------

not_on_chain(
    LedgerCreated, "genesis is the Ledger contract's constructor argument; a later one is DuplicateRegistration"
)


@evm_call(RoleGranted)
def _grant_call(event: Event, payload: RoleGranted, state: State) -> Call:
    return "grant_role", [event.nonce, payload.subject, ROLE_BITS[payload.role], event.body]


@evm_call(RoleRevoked)
def _revoke_call(event: Event, payload: RoleRevoked, state: State) -> Call:
    return "revoke_role", [event.nonce, payload.subject, ROLE_BITS[payload.role], event.body]


def dataset_records(payload: DatasetRegistered) -> int:
    """The record count the contract stores for a dataset: the declared count, 0 when absent."""
    return declared_records(payload) or 0


@evm_call(DatasetRegistered)
def _dataset_call(event: Event, payload: DatasetRegistered, state: State) -> Call:
    parents = [digest32(p) for p in payload.parents]
    return "register_dataset", [
        event.nonce,
        digest32(payload.dataset_id),
        parents,
        dataset_records(payload),
        event.body,
    ]


@evm_call(ModelRegistered)
def _model_call(event: Event, payload: ModelRegistered, state: State) -> Call:
    parents, datasets = [digest32(p) for p in payload.parents], [digest32(d) for d in payload.datasets]
    return "register_model", [event.nonce, digest32(payload.model_id), parents, datasets, event.body]


__all__ = [
    "DatasetRecord",
    "DatasetRegistered",
    "LedgerCreated",
    "ModelRecord",
    "ModelRegistered",
    "RoleGranted",
    "RoleRevoked",
    "dataset",
    "holders_of",
    "model",
    "require_role",
    "roles_of",
]
