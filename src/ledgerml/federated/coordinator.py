"""The aggregator's side of a federated task, on the ledger and without Flower: create the task, take each
round's replies (update bytes + the participant's signed commitment), validate, store, aggregate, finalize.

Everything needed to resume lives on the ledger and in the artifact store: a coordinator restarted after a
crash continues with the open round, reuses updates already committed in it, and cannot finalize a round
twice (the state machine refuses).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._canonical import canonical_json
from ..errors import ConfigError, LedgerMLError, NotFound, RejectedEvent
from ..events import event_from_dict
from ..identity import Identity
from ..ledger.base import LedgerBackend
from ..state import next_nonce
from ..store import ArtifactStore
from ..tasks import (
    CommitRecord,
    Rejection,
    RoundFinalized,
    TaskCreated,
    TaskRecord,
    commits,
    participants,
    progress,
    task,
)
from ..types import Address, Digest
from .aggregation import AggregationResult, aggregate, check_rule
from .dp import gaussian_epsilon
from .models import Model
from .serialization import Weights, flatten, from_bytes, to_bytes, unflatten
from .validation import check_update

MISMATCH = "digest mismatch: received "


@dataclass
class Reply:
    """What arrived from one participant for one round."""

    node: str
    event: dict[str, Any] | None = None
    update: bytes | None = None
    error: str | None = None


@dataclass
class RoundOutcome:
    """What a finalized round decided."""

    round: int
    status: str
    aggregate_digest: str | None
    accepted: list[Address]
    rejected: dict[Address, str]
    invalid: list[tuple[str, str]]
    metrics: dict[str, float]
    global_weights: Weights = field(repr=False)


def update_verdict(
    store: ArtifactStore,
    commit: CommitRecord,
    template: Weights,
    max_norm: float | None,
    received: dict[str, bytes] | None = None,
) -> tuple[Weights | None, str | None]:
    """Load a committed update and check it: ``(weights, None)`` if usable, else ``(None, reason)``.

    The auditor calls exactly this, so an aggregator's rejection reasons can be recomputed. ``received``
    holds bytes the aggregator hashed on arrival (by digest), so it need not read them back from the store.
    """
    try:
        data = (received or {}).get(commit.update_digest) or store.get(commit.update_digest)
    except NotFound:
        return None, "update bytes are not in the store"
    except LedgerMLError as exc:
        return None, f"stored update is corrupted: {exc}"
    try:
        weights = from_bytes(data)
    except LedgerMLError as exc:
        return None, str(exc)
    reason = check_update(weights, template, max_norm)
    return (None, reason) if reason else (weights, None)


def run_rule(
    record: TaskRecord, template: Weights, usable: dict[Address, Weights], examples: dict[Address, int]
) -> tuple[AggregationResult | None, list[Address]]:
    """Apply the task's rule to the usable updates in address order; returns the result and that order."""
    order = sorted(usable)
    if not order:
        return None, order
    base = flatten(template)
    deltas = np.stack([flatten(usable[a]) - base for a in order])
    weights = np.array([examples[a] for a in order], dtype=np.float64)
    return aggregate(record.rule, deltas, weights, record.params()), order


def new_global(template: Weights, result: AggregationResult) -> Weights:
    """The next global model: current global plus the aggregated change."""
    return unflatten(flatten(template) + result.delta, template)


class TaskCoordinator:
    """Runs one task's rounds as its aggregator."""

    def __init__(self, ledger: LedgerBackend, store: ArtifactStore, aggregator: Identity, task_id: str) -> None:
        self.ledger = ledger
        self.store = store
        self.aggregator = aggregator
        record = task(ledger.state(), task_id)
        if record is None:
            raise NotFound(f"task {task_id!r} does not exist")
        if record.aggregator != aggregator.address:
            raise ConfigError(f"{aggregator.address} is not the aggregator of task {task_id!r}")
        self.record = record

    @classmethod
    def create(
        cls,
        ledger: LedgerBackend,
        store: ArtifactStore,
        aggregator: Identity,
        *,
        task_id: str,
        model: Model,
        rounds: int,
        rule: str = "fedavg",
        rule_params: dict[str, Any] | None = None,
        name: str | None = None,
        max_update_norm: float | None = None,
        dp: dict[str, Any] | None = None,
        min_participants: int = 1,
        reward_pool: int = 0,
        min_stake: int = 0,
        validation_dataset: str | None = None,
        slash_on: list[str] | None = None,
        slash_amount: int = 0,
        valuation: dict[str, Any] | None = None,
    ) -> TaskCoordinator:
        """Store the model spec and initial weights, then register ``TaskCreated``."""
        check_rule(rule, rule_params or {})
        if dp:
            unknown = set(dp) - {"clip", "noise_multiplier", "delta"}
            if unknown or not {"clip", "noise_multiplier", "delta"} <= set(dp):
                raise ConfigError("dp needs exactly clip, noise_multiplier and delta")
        spec_bytes = canonical_json(model.spec)
        initial = to_bytes(model.get_weights())
        payload = TaskCreated(
            task_id=task_id,
            name=name or task_id,
            model_spec=str(Digest.sha256(spec_bytes)),
            initial_model=str(Digest.sha256(initial)),
            rounds=rounds,
            rule=rule,
            rule_params=rule_params or {},
            max_update_norm=max_update_norm,
            dp=dp or {},
            min_participants=min_participants,
            reward_pool=reward_pool,
            min_stake=min_stake,
            validation_dataset=validation_dataset,
            slash_on=slash_on or [],
            slash_amount=slash_amount,
            valuation=valuation or {},
        )
        ledger.submit(aggregator, payload)
        store.put(spec_bytes)
        store.put(initial)
        return cls(ledger, store, aggregator, task_id)

    @property
    def task_id(self) -> str:
        """The task's id."""
        return self.record.task_id

    def model_spec(self) -> dict[str, Any]:
        """The model spec the task was created with."""
        spec: dict[str, Any] = json.loads(self.store.get(self.record.model_spec))
        return spec

    def global_digest(self) -> str:
        """Digest of the current global model."""
        return progress(self.ledger.state(), self.task_id).global_digest

    def global_weights(self) -> Weights:
        """The current global model, from the store (digest checked)."""
        return from_bytes(self.store.get(self.global_digest()))

    def open_round(self) -> int | None:
        """The round that takes commitments now, or None when the task is finished."""
        done = progress(self.ledger.state(), self.task_id).finalized
        return None if done >= self.record.rounds else done + 1

    def participants(self) -> list[Address]:
        """Joined participants."""
        return participants(self.ledger.state(), self.task_id)

    def train_config(self) -> dict[str, Any]:
        """What participants need to commit in the open round: task, round, base model, their nonces."""
        state = self.ledger.state()
        return {
            "task": self.task_id,
            "round": self.open_round() or 0,
            "base": progress(state, self.task_id).global_digest,
            "ledger": self.ledger.ledger_id,
            "nonces": json.dumps({a: next_nonce(state, a) for a in participants(state, self.task_id)}),
        }

    def _accept_commitments(
        self, round_: int, replies: list[Reply]
    ) -> tuple[list[tuple[str, str]], dict[Address, str], dict[str, bytes]]:
        invalid: list[tuple[str, str]] = []
        mismatches: dict[Address, str] = {}
        received_bytes: dict[str, bytes] = {}
        already = commits(self.ledger.state(), self.task_id, round_)
        for reply in sorted(replies, key=lambda r: r.node):
            if reply.error is not None or reply.event is None or reply.update is None:
                invalid.append((reply.node, reply.error or "reply carries no commitment or update"))
                continue
            try:
                event = event_from_dict(reply.event)
            except LedgerMLError as exc:
                invalid.append((reply.node, f"malformed commitment: {exc}"))
                continue
            payload = event.payload
            if (
                event.kind != "UpdateCommitted"
                or payload.get("task_id") != self.task_id
                or payload.get("round") != round_
            ):
                invalid.append((event.actor, f"commitment is not for task {self.task_id!r} round {round_}"))
                continue
            if event.actor in already:
                continue  # committed before an interruption; that commitment stands
            received = self.store.put(reply.update)  # bytes first: a commitment never outlives its update
            try:
                self.ledger.append(event)
            except RejectedEvent as exc:
                invalid.append((event.actor, f"commitment refused ({type(exc).__name__}): {exc}"))
                continue
            if str(received) != payload["update_digest"]:
                mismatches[event.actor] = f"{MISMATCH}{received}"
            else:
                received_bytes[str(received)] = reply.update
        return invalid, mismatches, received_bytes

    def process_round(
        self, replies: list[Reply], *, evaluate: Callable[[Weights], dict[str, float]] | None = None
    ) -> RoundOutcome:
        """Commit what arrived, judge every committed update, aggregate, and finalize the open round."""
        round_ = self.open_round()
        if round_ is None:
            raise ConfigError(f"task {self.task_id!r} is finished")
        template = self.global_weights()
        invalid, mismatches, received = self._accept_commitments(round_, replies)
        committed = commits(self.ledger.state(), self.task_id, round_)
        rejected: dict[Address, str] = {}
        usable: dict[Address, Weights] = {}
        for participant, commit in sorted(committed.items()):
            weights, reason = update_verdict(self.store, commit, template, self.record.max_update_norm, received)
            if weights is None:
                rejected[participant] = mismatches.get(participant, reason or "unusable")
            else:
                usable[participant] = weights
        result, order = run_rule(self.record, template, usable, {a: c.num_examples for a, c in committed.items()})
        accepted: list[Address] = []
        if result is not None:
            accepted = [order[i] for i in result.accepted]
            rejected.update({order[i]: reason for i, reason in result.rejected.items()})
        metrics: dict[str, float] = {
            "committed": float(len(committed)),
            "accepted": float(len(accepted)),
            "rejected": float(len(rejected)),
            "invalid": float(len(invalid)),
        }
        dp = self.record.dp_params()
        if dp:
            metrics["dp_epsilon"] = gaussian_epsilon(float(dp["noise_multiplier"]), round_, float(dp["delta"]))  # type: ignore[arg-type]
        if result is not None and len(accepted) >= self.record.min_participants:
            weights_next = new_global(template, result)
            data = to_bytes(weights_next)
            aggregate_digest: str | None = str(self.store.put(data))
            status = "ok"
        else:
            weights_next, aggregate_digest, status = template, None, "failed"
        if evaluate is not None:
            metrics.update(evaluate(weights_next))
        self.ledger.submit(
            self.aggregator,
            RoundFinalized(
                task_id=self.task_id,
                round=round_,
                status=status,
                aggregate_digest=aggregate_digest,
                accepted=sorted(accepted),
                rejected=[Rejection(participant=a, reason=r[:512]) for a, r in sorted(rejected.items())],
                invalid=[Rejection(participant=_as_participant(n), reason=r[:512]) for n, r in invalid],
                metrics=metrics,
            ),
        )
        return RoundOutcome(
            round_, status, aggregate_digest, sorted(accepted), rejected, invalid, metrics, weights_next
        )


def _as_participant(node: str) -> str:
    """Invalid replies name their claimed participant if they have one, else a placeholder address."""
    from ..types import is_checksum_address

    return node if is_checksum_address(node) else "0x" + "0" * 40
