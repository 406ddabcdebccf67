"""Federated task and round events and their rules in the state machine (no ML here: digests and lists).

``TaskCreated`` (by an aggregator) fixes the model, rule, rounds and limits; ``ParticipantJoined`` (by a
data owner or trainer, naming datasets they own); ``UpdateCommitted`` (signed by the participant, so the
aggregator cannot forge it); ``RoundFinalized`` (by the task's aggregator) names every committed update as
accepted or rejected with a reason. Rounds finalize in order, each exactly once. Payouts: ``vocab.rewards``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field, JsonValue, model_validator

from .._json import loads_bounded
from .._keccak import keccak256
from ..errors import DuplicateRegistration, InvalidTransition, MalformedEvent, Unauthorized, UnknownReference
from ..events import AddressField, DigestField, Event, Payload, ShortText, event_kind
from ..state import MAX_RECORDS, State, record_type, rule
from ..types import Address, Role
from ._gate import require_approval
from .access import may_use
from .core import dataset, require_role
from .evm import MAX_LIST, ZERO32, ZERO_ADDRESS, Call, address_order, digest32, evm_call, pack_commit, task_key
from .tokens import MAX_AMOUNT, move_balance, move_stake

TaskId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
Reason = Annotated[str, Field(min_length=1, max_length=512)]


def _empty(value: object) -> bool:
    """Whether an optional field is unset (and so left out of the canonical body)."""
    return not value


class Rejection(Payload):
    """A participant whose update was not used, and why."""

    participant: AddressField
    reason: Reason


@event_kind("TaskCreated")
class TaskCreated(Payload):
    """An aggregator opens a federated task."""

    task_id: TaskId
    name: ShortText
    model_spec: DigestField
    initial_model: DigestField
    rounds: int = Field(ge=1, le=100_000)
    rule: ShortText
    rule_params: dict[str, JsonValue] = Field(default_factory=dict)
    max_update_norm: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    dp: dict[str, JsonValue] = Field(default_factory=dict)
    min_participants: int = Field(default=1, ge=1, le=100_000)
    reward_pool: int = Field(default=0, ge=0, le=MAX_AMOUNT)
    min_stake: int = Field(default=0, ge=0, le=MAX_AMOUNT)
    validation_dataset: DigestField | None = None
    slash_on: list[Reason] = Field(default_factory=list, max_length=32)
    slash_amount: int = Field(default=0, ge=0, le=MAX_AMOUNT)
    valuation: dict[str, JsonValue] = Field(default_factory=dict)
    # Fields added after the first release are left out of the body while empty (``exclude_if``), so every
    # TaskCreated written before them is still in canonical form and keeps its id and signature.
    screening: dict[str, JsonValue] = Field(default_factory=dict, exclude_if=_empty)
    """The participant-screening policy (detector, threshold, action flag|exclude|slash); empty: none."""
    secure_aggregation: dict[str, JsonValue] = Field(default_factory=dict, exclude_if=_empty)
    """Secure aggregation's settings (protocol, quantization, threshold); empty: updates are stored in the clear."""
    clients_per_round: int = Field(default=0, ge=0, le=100_000, exclude_if=_empty)
    """Participants sampled each round (``federated.sampling``: a keyed-hash order of the task and round); 0: all."""


@event_kind("ParticipantJoined")
class ParticipantJoined(Payload):
    """A data owner or trainer joins a task with the datasets it will train on."""

    task_id: TaskId
    datasets: list[DigestField] = Field(default_factory=list, max_length=64)
    stake: int = Field(default=0, ge=0, le=MAX_AMOUNT)


@event_kind("UpdateCommitted")
class UpdateCommitted(Payload):
    """A participant commits to the digest of its update for one round."""

    task_id: TaskId
    round: int = Field(ge=1)
    update_digest: DigestField
    base_digest: DigestField
    num_examples: int = Field(ge=0, le=MAX_RECORDS)


@event_kind("RoundFinalized")
class RoundFinalized(Payload):
    """The task's aggregator closes a round: the aggregate and the fate of every committed update."""

    task_id: TaskId
    round: int = Field(ge=1)
    status: Literal["ok", "failed"]
    aggregate_digest: DigestField | None
    accepted: list[AddressField] = Field(default_factory=list)
    rejected: list[Rejection] = Field(default_factory=list)
    invalid: list[Rejection] = Field(default_factory=list)
    metrics: dict[str, float | int] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _status_matches_aggregate(self) -> RoundFinalized:
        if (self.status == "ok") != (self.aggregate_digest is not None):
            raise ValueError("status 'ok' needs an aggregate_digest and 'failed' must have none")
        return self


@record_type
@dataclass(frozen=True, slots=True)
class TaskRecord:
    """A task as created."""

    task_id: str
    aggregator: Address
    name: str
    model_spec: str
    initial_model: str
    rounds: int
    rule: str
    rule_params: str  # canonical JSON
    max_update_norm: float | None
    dp: str  # canonical JSON
    min_participants: int
    reward_pool: int
    min_stake: int
    validation_dataset: str | None
    created_by: str
    slash_on: tuple[str, ...] = ()
    slash_amount: int = 0
    valuation: str = "{}"  # canonical JSON
    screening: str = "{}"  # canonical JSON
    secure_aggregation: str = "{}"  # canonical JSON
    clients_per_round: int = 0  # 0: every participant trains every round

    def params(self) -> dict[str, JsonValue]:
        """The rule's parameters."""
        value: dict[str, JsonValue] = loads_bounded(self.rule_params)
        return value

    def dp_params(self) -> dict[str, JsonValue]:
        """The differential-privacy parameters (empty when DP is off)."""
        value: dict[str, JsonValue] = loads_bounded(self.dp)
        return value

    def screening_policy(self) -> dict[str, JsonValue]:
        """The participant-screening policy (empty when the task screens nobody)."""
        value: dict[str, JsonValue] = loads_bounded(self.screening)
        return value

    def secure_settings(self) -> dict[str, JsonValue]:
        """Secure aggregation's settings (empty when updates are stored in the clear)."""
        value: dict[str, JsonValue] = loads_bounded(self.secure_aggregation)
        return value


@record_type
@dataclass(frozen=True, slots=True)
class TaskProgress:
    """How far a task is: rounds finalized and the current global model."""

    finalized: int
    global_digest: str


@record_type
@dataclass(frozen=True, slots=True)
class ParticipantRecord:
    """A participant of a task."""

    datasets: tuple[str, ...]
    stake: int
    joined_by: str


@record_type
@dataclass(frozen=True, slots=True)
class CommitRecord:
    """A committed update."""

    update_digest: str
    base_digest: str
    num_examples: int
    event_id: str


@record_type
@dataclass(frozen=True, slots=True)
class RoundRecord:
    """A finalized round."""

    status: str
    aggregate_digest: str | None
    accepted: tuple[str, ...]
    rejected: tuple[tuple[str, str], ...]
    invalid: tuple[tuple[str, str], ...]
    metrics: str  # canonical JSON
    event_id: str


def task(state: State, task_id: str) -> TaskRecord | None:
    """The task ``task_id``, if created."""
    record: TaskRecord | None = state.get("tasks", task_id)
    return record


def progress(state: State, task_id: str) -> TaskProgress:
    """Rounds finalized so far and the current global model digest."""
    record: TaskProgress = state.get("task_progress", task_id)
    return record


def participants(state: State, task_id: str) -> list[Address]:
    """Joined participants, sorted by address."""
    return sorted(Address(address) for (tid, address) in state.rows("participants") if tid == task_id)


def commits(state: State, task_id: str, round_: int) -> dict[Address, CommitRecord]:
    """Committed updates of one round, by participant."""
    return {Address(a): c for (tid, r, a), c in state.rows("commits").items() if tid == task_id and r == round_}


def round_record(state: State, task_id: str, round_: int) -> RoundRecord | None:
    """A finalized round, if finalized."""
    record: RoundRecord | None = state.get("rounds", (task_id, round_))
    return record


def require_task(state: State, task_id: str) -> TaskRecord:
    found = task(state, task_id)
    if found is None:
        raise UnknownReference(f"task {task_id!r} does not exist")
    return found


def _require_open_round(state: State, record: TaskRecord, round_: int) -> TaskProgress:
    current = progress(state, record.task_id)
    if current.finalized >= record.rounds:
        raise InvalidTransition(f"task {record.task_id!r} is finished ({record.rounds} rounds)")
    if round_ != current.finalized + 1:
        raise InvalidTransition(
            f"round {round_} of task {record.task_id!r} is not open; the open round is {current.finalized + 1}"
        )
    return current


@rule(TaskCreated)
def _task_created(state: State, event: Event, payload: TaskCreated) -> None:
    require_approval(state, TaskCreated.kind)
    require_role(state, event.actor, Role.AGGREGATOR)
    if task(state, payload.task_id) is not None:
        raise DuplicateRegistration(f"task {payload.task_id!r} exists already")
    if payload.validation_dataset is not None and dataset(state, payload.validation_dataset) is None:
        raise UnknownReference(f"validation dataset {payload.validation_dataset} is not registered")
    state.put(
        "tasks",
        payload.task_id,
        TaskRecord(
            task_id=payload.task_id,
            aggregator=event.actor,
            name=payload.name,
            model_spec=payload.model_spec,
            initial_model=payload.initial_model,
            rounds=payload.rounds,
            rule=payload.rule,
            rule_params=json.dumps(payload.rule_params, sort_keys=True),
            max_update_norm=payload.max_update_norm,
            dp=json.dumps(payload.dp, sort_keys=True),
            min_participants=payload.min_participants,
            reward_pool=payload.reward_pool,
            min_stake=payload.min_stake,
            validation_dataset=payload.validation_dataset,
            created_by=event.id,
            slash_on=tuple(payload.slash_on),
            slash_amount=payload.slash_amount,
            valuation=json.dumps(payload.valuation, sort_keys=True),
            screening=json.dumps(payload.screening, sort_keys=True),
            secure_aggregation=json.dumps(payload.secure_aggregation, sort_keys=True),
            clients_per_round=payload.clients_per_round,
        ),
    )
    state.put("task_progress", payload.task_id, TaskProgress(0, payload.initial_model))


@rule(ParticipantJoined)
def _participant_joined(state: State, event: Event, payload: ParticipantJoined) -> None:
    record = require_task(state, payload.task_id)
    require_role(state, event.actor, Role.DATA_OWNER, Role.TRAINER)
    if state.get("participants", (payload.task_id, event.actor)) is not None:
        raise DuplicateRegistration(f"{event.actor} has joined task {payload.task_id!r} already")
    if progress(state, payload.task_id).finalized >= record.rounds:
        raise InvalidTransition(f"task {payload.task_id!r} is finished")
    if payload.stake < record.min_stake:
        raise InvalidTransition(f"stake {payload.stake} is below the task's minimum {record.min_stake}")
    for dataset_id in payload.datasets:
        found = dataset(state, dataset_id)
        if found is None:
            raise UnknownReference(f"dataset {dataset_id} is not registered")
        if not may_use(state, dataset_id, event.actor, event.time):
            raise Unauthorized(
                f"dataset {dataset_id} is owned by {found.owner}; {event.actor} holds no live grant for it"
            )
    if payload.stake:
        move_balance(state, event.actor, -payload.stake)
        move_stake(state, payload.task_id, event.actor, payload.stake)
    state.put(
        "participants",
        (payload.task_id, event.actor),
        ParticipantRecord(tuple(payload.datasets), payload.stake, event.id),
    )


@rule(UpdateCommitted)
def _update_committed(state: State, event: Event, payload: UpdateCommitted) -> None:
    record = require_task(state, payload.task_id)
    joined: ParticipantRecord | None = state.get("participants", (payload.task_id, event.actor))
    if joined is None:
        raise Unauthorized(f"{event.actor} has not joined task {payload.task_id!r}")
    for dataset_id in joined.datasets:
        if not may_use(state, dataset_id, event.actor, event.time):
            raise Unauthorized(
                f"{event.actor} may no longer use dataset {dataset_id} (its grant was revoked or expired)"
            )
    current = _require_open_round(state, record, payload.round)
    key = (payload.task_id, payload.round, event.actor)
    if state.get("commits", key) is not None:
        raise DuplicateRegistration(f"{event.actor} committed an update for round {payload.round} already")
    if payload.base_digest != current.global_digest:
        raise InvalidTransition(
            f"the update was trained on {payload.base_digest}, not on the current global model {current.global_digest}"
        )
    bound = example_bound(state, payload.task_id, event.actor)
    if payload.num_examples > bound:
        raise InvalidTransition(
            f"num_examples {payload.num_examples} exceeds the {bound} records of the datasets "
            f"{event.actor} joined task {payload.task_id!r} with"
        )
    state.put("commits", key, CommitRecord(payload.update_digest, payload.base_digest, payload.num_examples, event.id))


def example_bound(state: State, task_id: str, participant: str) -> int:
    """Most examples ``participant`` may claim per update: the declared records of the datasets it joined with."""
    joined: ParticipantRecord | None = state.get("participants", (task_id, participant))
    if joined is None:
        return 0
    total = 0
    for dataset_id in joined.datasets:
        found = dataset(state, dataset_id)
        total += 0 if found is None or found.records is None else found.records
    return total


@rule(RoundFinalized)
def _round_finalized(state: State, event: Event, payload: RoundFinalized) -> None:
    record = require_task(state, payload.task_id)
    if event.actor != record.aggregator:
        raise Unauthorized(f"only the task's aggregator {record.aggregator} finalizes its rounds")
    current = _require_open_round(state, record, payload.round)
    committed = set(commits(state, payload.task_id, payload.round))
    accepted = set(payload.accepted)
    rejected = {r.participant for r in payload.rejected}
    if len(accepted) != len(payload.accepted) or len(rejected) != len(payload.rejected) or accepted & rejected:
        raise InvalidTransition("a participant is listed twice in accepted/rejected")
    if not (accepted | rejected) <= committed:
        raise InvalidTransition(
            f"the round names updates that were never committed: {sorted((accepted | rejected) - committed)}"
        )
    if committed - accepted - rejected:
        raise InvalidTransition(
            f"committed updates are neither accepted nor rejected: {sorted(committed - accepted - rejected)}"
        )
    if payload.status == "ok" and len(accepted) < record.min_participants:
        raise InvalidTransition(
            f"{len(accepted)} accepted updates are fewer than the task's minimum "
            f"{record.min_participants}; finalize the round as failed"
        )
    state.put(
        "rounds",
        (payload.task_id, payload.round),
        RoundRecord(
            status=payload.status,
            aggregate_digest=payload.aggregate_digest,
            accepted=tuple(sorted(accepted)),
            rejected=tuple((r.participant, r.reason) for r in payload.rejected),
            invalid=tuple((r.participant, r.reason) for r in payload.invalid),
            metrics=json.dumps(payload.metrics, sort_keys=True),
            event_id=event.id,
        ),
    )
    state.put(
        "task_progress",
        payload.task_id,
        TaskProgress(current.finalized + 1, payload.aggregate_digest or current.global_digest),
    )


# -- EVM encodings ----------------------------------------------------------------------------------


@evm_call(TaskCreated)
def _task_call(event: Event, payload: TaskCreated, state: State) -> Call:
    config = (ZERO_ADDRESS, payload.min_participants, payload.reward_pool, payload.min_stake, payload.slash_amount)
    validation = ZERO32 if payload.validation_dataset is None else digest32(payload.validation_dataset)
    prefixes = [keccak256(prefix.encode()) for prefix in payload.slash_on]
    key, initial = task_key(payload.task_id), digest32(payload.initial_model)
    return "create_task", [event.nonce, key, initial, payload.rounds, config, validation, prefixes, event.body]


@evm_call(ParticipantJoined)
def _join_call(event: Event, payload: ParticipantJoined, state: State) -> Call:
    datasets = [digest32(d) for d in payload.datasets]
    return "join", [event.nonce, task_key(payload.task_id), datasets, payload.stake, event.body]


@evm_call(UpdateCommitted)
def _commit_call(event: Event, payload: UpdateCommitted, state: State) -> Call:
    """The compact call: typed fields and the signature, no body (readers rebuild it, see ``ledger.evm.compact``)."""
    packed, r, s = pack_commit(event.nonce, payload.round, payload.num_examples, event.time, event.signature)
    digests = [digest32(payload.update_digest), digest32(payload.base_digest)]
    return "commit_update", [packed, task_key(payload.task_id), *digests, r, s]


@evm_call(RoundFinalized)
def _finalize_call(event: Event, payload: RoundFinalized, state: State) -> Call:
    rejected = sorted(payload.rejected, key=lambda r: address_order(r.participant))
    if len(payload.accepted) > MAX_LIST or len(rejected) > MAX_LIST:
        raise MalformedEvent(f"a round on the EVM ledger names at most {MAX_LIST} participants per list")
    aggregate = ZERO32 if payload.aggregate_digest is None else digest32(payload.aggregate_digest)
    return "finalize_round", [
        event.nonce,
        task_key(payload.task_id),
        payload.round,
        payload.status == "ok",
        aggregate,
        sorted(payload.accepted, key=address_order),
        [r.participant for r in rejected],
        [keccak256(r.reason.encode()) for r in rejected],
        event.body,
    ]


__all__ = [
    "CommitRecord",
    "ParticipantJoined",
    "ParticipantRecord",
    "Reason",
    "Rejection",
    "RoundFinalized",
    "RoundRecord",
    "TaskCreated",
    "TaskId",
    "TaskProgress",
    "TaskRecord",
    "UpdateCommitted",
    "commits",
    "example_bound",
    "participants",
    "progress",
    "round_record",
    "task",
]
