"""The rewards vocabulary: paying a finalized round, slashing a rejected participant's stake, settling a task.

Payments are recomputed by the rule (``budget * c // sum(c)``), never trusted; a slash needs the round's own
rejection for a reason the task names and the committed update's digest as evidence; settlement returns every
remaining stake. :func:`payouts` is the one read model of what a task paid and slashed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import Field

from ..errors import DuplicateRegistration, InvalidTransition, Unauthorized
from ..events import AddressField, DigestField, Event, Payload, event_kind
from ..state import State, record_type, rule
from ..types import Address
from .evm import Call, address_order, digest32, evm_call, task_key
from .tasks import Reason, RoundRecord, TaskId, TaskRecord, participants, progress, require_task, round_record, task
from .tokens import move_balance, move_pool, move_stake, pool, stake


@event_kind("RewardPaid")
class RewardPaid(Payload):
    """The aggregator pays a finalized round's reward: ``contributions`` (micro-units of utility, one per
    accepted participant) and the payments the rule gives for them, exactly."""

    task_id: TaskId
    round: int = Field(ge=1)
    contributions: dict[AddressField, int] = Field(default_factory=dict)
    payments: dict[AddressField, int] = Field(default_factory=dict)


@event_kind("StakeSlashed")
class StakeSlashed(Payload):
    """The aggregator slashes a participant whose update was rejected for a reason the task names."""

    task_id: TaskId
    round: int = Field(ge=1)
    participant: AddressField
    amount: int = Field(gt=0)
    reason: Reason
    update_digest: DigestField


@event_kind("TaskSettled")
class TaskSettled(Payload):
    """After the last round, every remaining stake goes back to its participant."""

    task_id: TaskId


def round_budget(record: TaskRecord) -> int:
    """Tokens a round pays out at most: the reward pool as created, split evenly over the rounds."""
    return record.reward_pool // record.rounds


def expected_payments(budget: int, contributions: dict[str, int]) -> dict[str, int]:
    """``budget * c / sum(c)`` (floored) for every positive contribution; integer arithmetic only."""
    positive = {a: c for a, c in contributions.items() if c > 0}
    total = sum(positive.values())
    if total == 0 or budget == 0:
        return {}
    payments = {a: budget * c // total for a, c in positive.items()}
    return {a: p for a, p in payments.items() if p > 0}


@record_type
@dataclass(frozen=True, slots=True)
class RewardRecord:
    """A paid round: contributions and payments (sorted ``(address, amount)`` pairs) and the paying event."""

    contributions: tuple[tuple[str, int], ...]
    payments: tuple[tuple[str, int], ...]
    event_id: str


@record_type
@dataclass(frozen=True, slots=True)
class SlashRecord:
    """A slash: how much was taken, for which reason, by which event."""

    amount: int
    reason: str
    event_id: str


@dataclass(frozen=True)
class Payouts:
    """What a task paid and slashed so far: rewards by round, slashes by (round, participant)."""

    task_id: str
    rewards: dict[int, RewardRecord] = field(default_factory=dict)
    slashes: dict[tuple[int, Address], SlashRecord] = field(default_factory=dict)
    settled: bool = False

    def paid_to(self, address: str) -> int:
        """Tokens paid to ``address`` over every round."""
        return sum(dict(record.payments).get(address, 0) for record in self.rewards.values())

    def slashed_from(self, address: str) -> int:
        """Tokens slashed from ``address`` over every round."""
        return sum(s.amount for (_, who), s in self.slashes.items() if who == address)


def payouts(state: State, task_id: str) -> Payouts:
    """The one read model of a task's rewards, slashes and settlement."""
    rewards = {r: record for (t, r), record in state.rows("rewards").items() if t == task_id}
    slashes = {(r, Address(a)): record for (t, r, a), record in state.rows("slashes").items() if t == task_id}
    return Payouts(
        task_id, dict(sorted(rewards.items())), dict(sorted(slashes.items())), state.get("settled", task_id) is not None
    )


def _require_aggregator(state: State, event: Event, task_id: str) -> TaskRecord:
    record = require_task(state, task_id)
    if event.actor != record.aggregator:
        raise Unauthorized(f"only the task's aggregator {record.aggregator} does this")
    return record


def _require_round(state: State, task_id: str, round_: int) -> RoundRecord:
    found = round_record(state, task_id, round_)
    if found is None:
        raise InvalidTransition(f"round {round_} of task {task_id!r} is not finalized")
    return found


@rule(RewardPaid)
def _reward_paid(state: State, event: Event, payload: RewardPaid) -> None:
    record = _require_aggregator(state, event, payload.task_id)
    finalized = _require_round(state, payload.task_id, payload.round)
    if state.get("rewards", (payload.task_id, payload.round)) is not None:
        raise DuplicateRegistration(f"round {payload.round} of task {payload.task_id!r} is paid already")
    if finalized.status != "ok":
        raise InvalidTransition("a failed round pays no reward")
    if set(payload.contributions) != set(finalized.accepted):
        raise InvalidTransition("contributions must name exactly the round's accepted participants")
    budget = min(round_budget(record), pool(state, payload.task_id))
    expected = expected_payments(budget, dict(payload.contributions))
    if dict(payload.payments) != expected:
        raise InvalidTransition(f"payments {dict(payload.payments)} are not what the contributions give: {expected}")
    move_pool(state, payload.task_id, -sum(expected.values()))
    for address, amount in sorted(expected.items()):
        move_balance(state, address, amount)
    state.put(
        "rewards",
        (payload.task_id, payload.round),
        RewardRecord(tuple(sorted(payload.contributions.items())), tuple(sorted(expected.items())), event.id),
    )


@rule(StakeSlashed)
def _stake_slashed(state: State, event: Event, payload: StakeSlashed) -> None:
    record = _require_aggregator(state, event, payload.task_id)
    finalized = _require_round(state, payload.task_id, payload.round)
    if dict(finalized.rejected).get(payload.participant) != payload.reason:
        raise InvalidTransition(f"{payload.participant} was not rejected in round {payload.round} for that reason")
    if not any(payload.reason.startswith(prefix) for prefix in record.slash_on):
        raise InvalidTransition(f"the task does not slash for {payload.reason!r} (it slashes for {record.slash_on})")
    commit = state.get("commits", (payload.task_id, payload.round, payload.participant))
    if commit is None or commit.update_digest != payload.update_digest:
        raise InvalidTransition("the evidence names another update than the one committed")
    if state.get("slashes", (payload.task_id, payload.round, payload.participant)) is not None:
        raise DuplicateRegistration(f"{payload.participant} was slashed for round {payload.round} already")
    due = min(stake(state, payload.task_id, payload.participant), record.slash_amount)
    if due == 0 or payload.amount != due:
        raise InvalidTransition(f"the slash must be {due} (the task's slash amount, at most the remaining stake)")
    move_stake(state, payload.task_id, payload.participant, -due)
    move_pool(state, payload.task_id, due)
    state.put(
        "slashes", (payload.task_id, payload.round, payload.participant), SlashRecord(due, payload.reason, event.id)
    )


@rule(TaskSettled)
def _task_settled(state: State, event: Event, payload: TaskSettled) -> None:
    record = _require_aggregator(state, event, payload.task_id)
    if progress(state, payload.task_id).finalized < record.rounds:
        raise InvalidTransition(f"task {payload.task_id!r} still has rounds to run")
    if state.get("settled", payload.task_id) is not None:
        raise DuplicateRegistration(f"task {payload.task_id!r} is settled already")
    for address in participants(state, payload.task_id):
        held = stake(state, payload.task_id, address)
        if held:
            move_stake(state, payload.task_id, address, -held)
            move_balance(state, address, held)
    state.put("settled", payload.task_id, event.id)


# -- EVM encodings ----------------------------------------------------------------------------------


@evm_call(RewardPaid)
def _pay_call(event: Event, payload: RewardPaid, state: State) -> Call:
    extra = set(payload.payments) - set(payload.contributions)
    if extra or any(amount <= 0 for amount in payload.payments.values()):
        raise InvalidTransition(
            f"payments {dict(payload.payments)} are not what the contributions give: every payment is "
            "positive and goes to a contributor"
        )
    who = sorted(payload.contributions, key=address_order)
    contributions = [payload.contributions[a] for a in who]
    payments = [payload.payments.get(a, 0) for a in who]
    key = task_key(payload.task_id)
    return "pay_rewards", [event.nonce, key, payload.round, who, contributions, payments, event.body]


@evm_call(StakeSlashed)
def _slash_call(event: Event, payload: StakeSlashed, state: State) -> Call:
    reason = payload.reason.encode()
    record = task(state, payload.task_id)
    prefixes = [] if record is None else [p for p in record.slash_on if payload.reason.startswith(p)]
    prefix_length = len(prefixes[0].encode()) if prefixes else len(reason)
    return "slash", [
        event.nonce,
        task_key(payload.task_id),
        payload.round,
        payload.participant,
        payload.amount,
        reason,
        prefix_length,
        digest32(payload.update_digest),
        event.body,
    ]


@evm_call(TaskSettled)
def _settle_call(event: Event, payload: TaskSettled, state: State) -> Call:
    return "settle", [event.nonce, task_key(payload.task_id), event.body]


__all__ = [
    "Payouts",
    "RewardPaid",
    "RewardRecord",
    "SlashRecord",
    "StakeSlashed",
    "TaskSettled",
    "expected_payments",
    "payouts",
    "round_budget",
]
