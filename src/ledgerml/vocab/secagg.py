"""Secure aggregation's events: each stage of a round's protocol, signed by whoever performs it.

Participants advertise keys (``SecAggKeys``), commit to their sealed shares and to the hash of their self-mask
seed (``SecAggShares``), commit to their masked input and to a salted hash of its plaintext (``SecAggInput``,
next to the ``UpdateCommitted`` that names the masked bytes) and publish the shares they reveal for unmasking
(``SecAggReveal``); the aggregator records what it reconstructed (``SecAggUnmasked``). After the round an
auditor may ask to open one participant's input (``UpdateOpenRequested``); the participant answers with the
secrets that remove its masks (``UpdateOpened``). The bulky parts are documents in the artifact store, named
by digest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import Field

from ..errors import DuplicateRegistration, InvalidTransition, Unauthorized
from ..events import AddressField, DigestField, Event, Payload, event_kind
from ..state import State, record_type, rule
from ..types import Role
from .core import require_role
from .evm import not_on_chain
from .tasks import Reason, TaskId, _require_open_round, commits, progress, require_task

PublicKey = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
MAX_WEIGHT = 1 << 20


@event_kind("SecAggKeys")
class SecAggKeys(Payload):
    """A participant's two X25519 public keys for one round (share encryption, pairwise masks)."""

    task_id: TaskId
    round: int = Field(ge=1)
    cipher_key: PublicKey
    mask_key: PublicKey


@event_kind("SecAggShares")
class SecAggShares(Payload):
    """A participant's sealed share bundles (a store document) and the hash of its self-mask seed."""

    task_id: TaskId
    round: int = Field(ge=1)
    shares_digest: DigestField
    self_mask_commitment: DigestField


@event_kind("SecAggInput")
class SecAggInput(Payload):
    """A participant's masked input (the bytes its ``UpdateCommitted`` names), the salted hash of the plaintext
    quantized input, and the weight it carries."""

    task_id: TaskId
    round: int = Field(ge=1)
    masked_digest: DigestField
    plaintext_commitment: DigestField
    weight: int = Field(ge=0, le=MAX_WEIGHT)


@event_kind("SecAggReveal")
class SecAggReveal(Payload):
    """The shares a surviving participant reveals for unmasking (a store document)."""

    task_id: TaskId
    round: int = Field(ge=1)
    reveal_digest: DigestField


@event_kind("SecAggUnmasked")
class SecAggUnmasked(Payload):
    """The aggregator's unmasking: who survived, who dropped, and the reconstructed secrets (a store document)."""

    task_id: TaskId
    round: int = Field(ge=1)
    survivors: list[AddressField] = Field(max_length=1000)
    dropped: list[AddressField] = Field(default_factory=list, max_length=1000)
    unmask_digest: DigestField


@event_kind("UpdateOpenRequested")
class UpdateOpenRequested(Payload):
    """An auditor asks one participant to open its input of a finalized secure round."""

    task_id: TaskId
    round: int = Field(ge=1)
    participant: AddressField
    reason: Reason


@event_kind("UpdateOpened")
class UpdateOpened(Payload):
    """The participant's answer to an open request: the salt and the mask key (a store document)."""

    task_id: TaskId
    round: int = Field(ge=1)
    opening_digest: DigestField


@record_type
@dataclass(frozen=True, slots=True)
class SecAggRecord:
    """One participant's protocol record of one round (keys, shares, input and reveal as they arrive)."""

    cipher_key: str
    mask_key: str
    shares_digest: str | None = None
    self_mask_commitment: str | None = None
    masked_digest: str | None = None
    plaintext_commitment: str | None = None
    weight: int | None = None
    reveal_digest: str | None = None


@record_type
@dataclass(frozen=True, slots=True)
class UnmaskRecord:
    """The aggregator's unmasking of one round."""

    survivors: tuple[str, ...]
    dropped: tuple[str, ...]
    unmask_digest: str
    event_id: str


@record_type
@dataclass(frozen=True, slots=True)
class OpenRecord:
    """An open request and, once answered, the opening."""

    auditor: str
    reason: str
    opening_digest: str | None = None


def _secure_task(state: State, task_id: str, round_: int, *, open_round: bool = True) -> None:
    record = require_task(state, task_id)
    if record.secure_settings() == {}:
        raise InvalidTransition(f"task {task_id!r} does not use secure aggregation")
    if open_round:
        _require_open_round(state, record, round_)


def _mine(state: State, event: Event, task_id: str, round_: int) -> SecAggRecord:
    found: SecAggRecord | None = state.get("secagg", (task_id, round_, event.actor))
    if found is None:
        raise InvalidTransition(f"{event.actor} advertised no keys in round {round_} of task {task_id!r}")
    return found


@rule(SecAggKeys)
def _keys(state: State, event: Event, payload: SecAggKeys) -> None:
    _secure_task(state, payload.task_id, payload.round)
    if state.get("participants", (payload.task_id, event.actor)) is None:
        raise Unauthorized(f"{event.actor} has not joined task {payload.task_id!r}")
    key = (payload.task_id, payload.round, event.actor)
    if state.get("secagg", key) is not None:
        raise DuplicateRegistration(f"{event.actor} advertised keys for round {payload.round} already")
    state.put("secagg", key, SecAggRecord(payload.cipher_key, payload.mask_key))


def _advance(state: State, event: Event, task_id: str, round_: int, needs: str, sets: str, **values: object) -> None:
    found = _mine(state, event, task_id, round_)
    if needs and getattr(found, needs) is None:
        raise InvalidTransition(f"{event.actor} cannot record {sets} before {needs} in round {round_}")
    if getattr(found, sets) is not None:
        raise DuplicateRegistration(f"{event.actor} recorded {sets} for round {round_} already")
    state.put("secagg", (task_id, round_, event.actor), _replace(found, **values))


def _replace(found: SecAggRecord, **values: object) -> SecAggRecord:
    from dataclasses import replace

    return replace(found, **values)  # type: ignore[arg-type]


@rule(SecAggShares)
def _shares(state: State, event: Event, payload: SecAggShares) -> None:
    _secure_task(state, payload.task_id, payload.round)
    _advance(
        state,
        event,
        payload.task_id,
        payload.round,
        "",
        "shares_digest",
        shares_digest=payload.shares_digest,
        self_mask_commitment=payload.self_mask_commitment,
    )


@rule(SecAggInput)
def _input(state: State, event: Event, payload: SecAggInput) -> None:
    _secure_task(state, payload.task_id, payload.round)
    commit = commits(state, payload.task_id, payload.round).get(event.actor)
    if commit is None or commit.update_digest != payload.masked_digest:
        raise InvalidTransition(f"{event.actor}'s UpdateCommitted of round {payload.round} does not name this input")
    _advance(
        state,
        event,
        payload.task_id,
        payload.round,
        "shares_digest",
        "masked_digest",
        masked_digest=payload.masked_digest,
        plaintext_commitment=payload.plaintext_commitment,
        weight=payload.weight,
    )


@rule(SecAggReveal)
def _reveal(state: State, event: Event, payload: SecAggReveal) -> None:
    _secure_task(state, payload.task_id, payload.round)
    _advance(
        state,
        event,
        payload.task_id,
        payload.round,
        "masked_digest",
        "reveal_digest",
        reveal_digest=payload.reveal_digest,
    )


@rule(SecAggUnmasked)
def _unmasked(state: State, event: Event, payload: SecAggUnmasked) -> None:
    _secure_task(state, payload.task_id, payload.round)
    if event.actor != require_task(state, payload.task_id).aggregator:
        raise Unauthorized("only the task's aggregator records the unmasking")
    if state.get("secagg_unmask", (payload.task_id, payload.round)) is not None:
        raise DuplicateRegistration(f"round {payload.round} was unmasked already")
    survivors, dropped = set(payload.survivors), set(payload.dropped)
    if survivors & dropped or len(survivors) != len(payload.survivors) or len(dropped) != len(payload.dropped):
        raise InvalidTransition("a participant is listed twice among survivors and dropped")
    for name in sorted(survivors | dropped):
        found: SecAggRecord | None = state.get("secagg", (payload.task_id, payload.round, name))
        if found is None or found.shares_digest is None:
            raise InvalidTransition(f"{name} shared no secrets in round {payload.round}")
        if name in survivors and found.masked_digest is None:
            raise InvalidTransition(f"survivor {name} committed no masked input in round {payload.round}")
    record = UnmaskRecord(tuple(sorted(survivors)), tuple(sorted(dropped)), payload.unmask_digest, event.id)
    state.put("secagg_unmask", (payload.task_id, payload.round), record)


@rule(UpdateOpenRequested)
def _open_requested(state: State, event: Event, payload: UpdateOpenRequested) -> None:
    _secure_task(state, payload.task_id, payload.round, open_round=False)
    require_role(state, event.actor, Role.AUDITOR)
    if progress(state, payload.task_id).finalized < payload.round:
        raise InvalidTransition(f"round {payload.round} is not finalized; inputs are opened only afterwards")
    found: SecAggRecord | None = state.get("secagg", (payload.task_id, payload.round, payload.participant))
    if found is None or found.masked_digest is None:
        raise InvalidTransition(f"{payload.participant} committed no masked input in round {payload.round}")
    key = (payload.task_id, payload.round, payload.participant)
    if state.get("secagg_open", key) is not None:
        raise DuplicateRegistration(f"opening {payload.participant}'s round {payload.round} input was asked already")
    state.put("secagg_open", key, OpenRecord(event.actor, payload.reason))


@rule(UpdateOpened)
def _opened(state: State, event: Event, payload: UpdateOpened) -> None:
    key = (payload.task_id, payload.round, event.actor)
    found: OpenRecord | None = state.get("secagg_open", key)
    if found is None:
        raise InvalidTransition(f"no auditor asked {event.actor} to open its round {payload.round} input")
    if found.opening_digest is not None:
        raise DuplicateRegistration(f"{event.actor} opened its round {payload.round} input already")
    state.put("secagg_open", key, OpenRecord(found.auditor, found.reason, payload.opening_digest))


def secagg_records(state: State, task_id: str, round_: int) -> dict[str, SecAggRecord]:
    """Every participant's protocol record of ``round_``, by address."""
    return {k[2]: r for k, r in state.rows("secagg").items() if k[0] == task_id and k[1] == round_}


def unmask_record(state: State, task_id: str, round_: int) -> UnmaskRecord | None:
    """The aggregator's unmasking of ``round_``, if recorded."""
    found: UnmaskRecord | None = state.get("secagg_unmask", (task_id, round_))
    return found


def open_record(state: State, task_id: str, round_: int, participant: str) -> OpenRecord | None:
    """The open request for ``participant``'s input of ``round_`` (and its opening), if any."""
    found: OpenRecord | None = state.get("secagg_open", (task_id, round_, participant))
    return found


_WHY = "Ledger.vy has no room for more functions (22.8k of 24.6k bytes); secure aggregation runs on SQLite"
for _kind in (SecAggKeys, SecAggShares, SecAggInput, SecAggReveal, SecAggUnmasked, UpdateOpenRequested, UpdateOpened):
    not_on_chain(_kind, _WHY)

__all__ = [
    "OpenRecord",
    "SecAggInput",
    "SecAggKeys",
    "SecAggRecord",
    "SecAggReveal",
    "SecAggShares",
    "SecAggUnmasked",
    "UnmaskRecord",
    "UpdateOpenRequested",
    "UpdateOpened",
    "open_record",
    "secagg_records",
    "unmask_record",
]
