"""The aggregator's side of a federated task, on the ledger and without Flower: create the task, take each
round's replies (update bytes + the participant's signed commitment), validate, store, aggregate, finalize.

Everything needed to resume lives on the ledger and in the artifact store: a coordinator restarted after a
crash continues with the open round, reuses updates already committed in it, and cannot finalize a round
twice (the state machine refuses).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._canonical import canonical_json
from .._json import loads_bounded
from ..errors import ConfigError, LedgerMLError, NotFound, RejectedEvent
from ..events import MAX_EVENT_BYTES, Event, Payload, event_from_dict, sign_event
from ..identity import Identity
from ..ledger.base import LedgerBackend
from ..ml.models import ARRAYS_SPEC, Model, describe_arrays
from ..ml.serialization import Weights, flatten, from_bytes, to_bytes, unflatten
from ..state import MAX_RECORDS, State, apply, check_envelope, next_nonce
from ..store import ArtifactStore
from ..types import Address, Digest
from ..vocab.tasks import (
    CommitRecord,
    Rejection,
    RoundFinalized,
    TaskCreated,
    TaskRecord,
    commits,
    example_bound,
    participants,
    progress,
    task,
)
from .aggregation import AggregationResult, aggregate, check_rule
from .dp import check_dp_settings, gaussian_epsilon
from .flower_rules import is_flower_rule
from .receipts import issue_receipt
from .sampling import RoundSampler, not_sampled_reason
from .validation import check_update
from .weight_deltas import WeightsDeltas

MISMATCH = "digest mismatch: received "
EXAMPLES_EXCEED = "num_examples "
AGGREGATION_FAILED = "aggregation failed: "
MAX_COMMITMENT_DEPTH = 8
"""Deepest JSON nesting of a commitment event in a reply (an honest one nests 2 levels)."""
UPDATE_SLACK_BYTES = 64 * 1024
"""How much larger than the global model's safetensors encoding a reply's update bytes may be."""
OPTIONAL_TASK_FIELDS = (
    "rule_params",
    "dp",
    "slash_on",
    "valuation",
    "screening",
    "secure_aggregation",
    "clients_per_round",
)
"""``TaskCreated`` fields ``TaskCoordinator.create`` leaves at the kind's empty default when they are unset."""


@dataclass
class Reply:
    """What arrived from one participant for one round."""

    node: str
    event: dict[str, Any] | None = None
    update: bytes | None = None
    error: str | None = None
    participant: Address | None = None
    """The node's participant when known from its signed join (names an invalid reply that carries none)."""


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
    receipts: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)


def update_verdict(
    store: ArtifactStore,
    commit: CommitRecord,
    template: Weights,
    max_norm: float | None,
    received: dict[str, bytes] | None = None,
    *,
    example_bound: int | None = None,
) -> tuple[Weights | None, str | None]:
    """Load a committed update and check it: ``(weights, None)`` if usable, else ``(None, reason)``.

    The auditor calls exactly this, so an aggregator's rejection reasons can be recomputed. ``received``
    holds bytes the aggregator hashed on arrival (by digest), so it need not read them back from the store.
    ``example_bound`` is the most examples the participant's registered datasets hold. Never raises: any
    failure while checking is the update's rejection reason.
    """
    if example_bound is not None and commit.num_examples > example_bound:
        return None, f"{EXAMPLES_EXCEED}{commit.num_examples} exceeds the {example_bound} registered records"
    try:
        data = (received or {}).get(commit.update_digest) or store.get(commit.update_digest)
    except NotFound:
        return None, "update bytes are not in the store"
    except LedgerMLError as exc:
        return None, f"stored update is corrupted: {exc}"
    except Exception as exc:  # an unreadable store entry must not wedge the round
        return None, f"stored update is unreadable: {_describe(exc)}"
    try:
        weights = from_bytes(data, copy=False)  # read-only views of the canonical bytes; others copied
        reason = check_update(weights, template, max_norm)
    except LedgerMLError as exc:
        return None, str(exc)
    except Exception as exc:  # validation of hostile bytes must not wedge the round either
        return None, f"validation failed: {_describe(exc)}"
    return (None, reason) if reason else (weights, None)


def _describe(exc: BaseException) -> str:
    """``Type: first line of the message``, for reasons recorded on the ledger."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:400]


@dataclass
class RoundDecision:
    """What the task's rule made of a round's usable updates: the result, the next global model, or why not."""

    result: AggregationResult | None
    order: list[Address]
    weights: Weights | None
    error: str | None = None

    def accepted(self) -> list[Address]:
        """Participants whose updates the rule used."""
        return [] if self.result is None or self.error else sorted(self.order[i] for i in self.result.accepted)

    def rule_rejections(self) -> dict[Address, str]:
        """Usable updates the rule did not use, with its reason (all of them if aggregation failed)."""
        if self.error is not None:
            return {a: f"{AGGREGATION_FAILED}{self.error}" for a in self.order}
        return {} if self.result is None else {self.order[i]: r for i, r in self.result.rejected.items()}


def decide_round(
    record: TaskRecord,
    template: Weights,
    usable: dict[Address, Weights],
    examples: dict[Address, int],
    *,
    round_: int = 0,
    strategy: Any = None,
) -> RoundDecision:
    """Run the rule and build the next global model; any failure (or a non-finite aggregate) is returned as
    ``error``, never raised, so a round always finalizes. The auditor replays exactly this. For a Flower rule
    (``flwr:NAME``) ``strategy`` is the wrapped strategy whose aggregate is used (the auditor rebuilds it)."""
    order = sorted(usable)
    try:
        with np.errstate(all="ignore"):
            if is_flower_rule(record.rule):
                result, order, weights = run_flower_rule(record, template, usable, examples, round_, strategy)
            else:
                result, order = run_rule(record, template, usable, examples)
                weights = None if result is None else new_global(template, result)
            if result is None or weights is None:
                return RoundDecision(None, order, None)
            if not all(np.all(np.isfinite(array)) for array in weights.values()):
                return RoundDecision(result, order, None, "the aggregate has non-finite values")
    except Exception as exc:
        return RoundDecision(None, order, None, _describe(exc))
    return RoundDecision(result, order, weights)


def run_rule(
    record: TaskRecord, template: Weights, usable: dict[Address, Weights], examples: dict[Address, int]
) -> tuple[AggregationResult | None, list[Address]]:
    """Apply the task's rule to the usable updates in address order; returns the result and that order.

    Example counts are weights; each must be an integer from 0 to ``MAX_RECORDS`` (``ConfigError``
    otherwise), so float conversion can neither overflow nor let one participant swamp the others beyond
    what its registered records allow."""
    order = sorted(usable)
    if not order:
        return None, order
    counts = _checked_counts(order, examples)
    deltas = WeightsDeltas(template, [usable[a] for a in order])  # column blocks on demand: no n x d copy
    weights = np.array([float(c) for c in counts], dtype=np.float64)
    return aggregate(record.rule, deltas, weights, record.params()), order


def _checked_counts(order: list[Address], examples: dict[Address, int]) -> list[int]:
    """The example counts in ``order``; ``ConfigError`` unless each is an integer from 0 to ``MAX_RECORDS``."""
    counts = [examples[a] for a in order]
    if any(type(c) is not int or not 0 <= c <= MAX_RECORDS for c in counts):
        raise ConfigError(f"example counts must be integers from 0 to {MAX_RECORDS}")
    return counts


def run_flower_rule(
    record: TaskRecord,
    template: Weights,
    usable: dict[Address, Weights],
    examples: dict[Address, int],
    round_: int,
    strategy: Any = None,
) -> tuple[AggregationResult | None, list[Address], Weights | None]:
    """The task's Flower strategy on the usable updates (all of them count as accepted): the result, the order
    and the next global model, which is the strategy's aggregate itself (cast to the global model's dtypes; it
    must have the global model's arrays and shapes)."""
    from .flower_rules import build, flower_aggregate, quiet_flower

    order = sorted(usable)
    if not order:
        return None, order, None
    _checked_counts(order, examples)
    if strategy is None:  # the auditor's replay: the recorded strategy, rebuilt quietly
        with quiet_flower():
            aggregate = flower_aggregate(build(record.rule, record.params()), round_, order, usable, examples)
    else:
        aggregate = flower_aggregate(strategy, round_, order, usable, examples)
    reason = check_update(aggregate, template, None)
    if reason is not None and not reason.startswith("wrong dtype"):
        raise ConfigError(f"the strategy's aggregate does not fit the model: {reason}")
    shaped = {name: np.asarray(aggregate[name]).astype(template[name].dtype) for name in template}
    delta = flatten(shaped) - flatten(template)
    return AggregationResult(delta, tuple(range(len(order)))), order, shaped


def new_global(template: Weights, result: AggregationResult) -> Weights:
    """The next global model: current global plus the aggregated change."""
    vector = flatten(template)  # a new array: the change is added in place (the same sums, one 8d-byte copy less)
    vector += result.delta
    return unflatten(vector, template)


class TaskCoordinator:
    """Runs one task's rounds as its aggregator."""

    batch_commitments: bool = True
    """Append a round's screened commitments in one batch (one transaction, one state-machine pass)."""

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
        self.receipts: dict[str, dict[str, Any]] = {}
        self.sampler = RoundSampler(ledger, record)
        self._model: tuple[str, bytes] | None = None
        """The global model's digest and the bytes this coordinator read (digest checked) or stored under it."""
        self._spec: bytes | None = None
        self._envelopes: dict[tuple[bytes, bytes], RejectedEvent | None] = {}
        """This round's envelope checks (signature and ledger) by (digest, signature): each is recovered once."""

    @classmethod
    def create(
        cls,
        ledger: LedgerBackend,
        store: ArtifactStore,
        aggregator: Identity,
        *,
        task_id: str,
        model: Model | Weights,
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
        screening: dict[str, Any] | None = None,
        secure_aggregation: dict[str, Any] | None = None,
        clients_per_round: int = 0,
        funding: Sequence[tuple[Identity, Payload]] = (),
    ) -> TaskCoordinator:
        """Store the model spec and initial weights, then register ``TaskCreated`` together with ``funding``
        (e.g. the admin's mints into the reward pool) in one atomic batch, so a crash leaves all or none.

        ``model`` is a ledgerml model, or the app's own initial arrays by name (a Flower app's ArrayRecord as numpy;
        the spec records every array's name, shape and dtype). ``rule``: a ledgerml rule or ``flwr:NAME``."""
        if is_flower_rule(rule):
            from .flower_rules import build

            build(rule, rule_params or {})
        else:
            check_rule(rule, rule_params or {})
        if dp:
            check_dp_settings(dp, rounds)
        spec_bytes, initial = model_documents(model)
        given = (rule_params, dp, slash_on, valuation, screening, secure_aggregation, clients_per_round)
        payload = _task_created(
            task_id=task_id,
            name=name or task_id,
            model_spec=str(Digest.sha256(spec_bytes)),
            initial_model=str(Digest.sha256(initial)),
            rounds=rounds,
            rule=rule,
            max_update_norm=max_update_norm,
            min_participants=min_participants,
            reward_pool=reward_pool,
            min_stake=min_stake,
            validation_dataset=validation_dataset,
            slash_amount=slash_amount,
            **{key: value for key, value in zip(OPTIONAL_TASK_FIELDS, given, strict=True) if value},
        )
        store.put(spec_bytes)  # bytes first: the task never names what the store lacks
        store.put(initial)
        ledger.append_batch(_sign_batch(ledger, [(aggregator, payload), *funding]))
        return cls(ledger, store, aggregator, task_id)

    @property
    def task_id(self) -> str:
        """The task's id."""
        return self.record.task_id

    def model_spec(self) -> dict[str, Any]:
        """The model spec the task was created with (read from the store once, parsed on every call)."""
        if self._spec is None:
            self._spec = self.store.get(self.record.model_spec)
        spec: dict[str, Any] = loads_bounded(self._spec)
        return spec

    def global_digest(self, state: State | None = None) -> str:
        """Digest of the current global model (in ``state``, else in the ledger's current state)."""
        return progress(self.ledger.state() if state is None else state, self.task_id).global_digest

    def global_weights(self, state: State | None = None) -> Weights:
        """The current global model, from the store (digest checked)."""
        return from_bytes(self.global_bytes(state))

    def global_bytes(self, state: State | None = None) -> bytes:
        """The current global model's encoding: read from the store (digest checked) once per global model."""
        digest = self.global_digest(state)
        if self._model is None or self._model[0] != digest:
            self._model = (digest, self.store.get(digest))
        return self._model[1]

    def open_round(self, state: State | None = None) -> int | None:
        """The round that takes commitments now, or None when the task is finished (in ``state`` if given: a
        caller that already read the ledger's state passes it, and no second read is made)."""
        done = progress(self.ledger.state() if state is None else state, self.task_id).finalized
        return None if done >= self.record.rounds else done + 1

    def participants(self) -> list[Address]:
        """Joined participants."""
        return participants(self.ledger.state(), self.task_id)

    def train_config(self, state: State | None = None) -> dict[str, Any]:
        """What participants need to commit in the open round: task, round, base model, their nonces."""
        state = self.ledger.state() if state is None else state
        return {
            "task": self.task_id,
            "round": self.open_round(state) or 0,
            "base": progress(state, self.task_id).global_digest,
            "ledger": self.ledger.ledger_id,
            "nonces": json.dumps({a: next_nonce(state, a) for a in participants(state, self.task_id)}),
        }

    def max_update_bytes(self, state: State | None = None) -> int:
        """Largest update a reply may carry: the global model's encoding plus ``UPDATE_SLACK_BYTES``."""
        return len(self.global_bytes(state)) + UPDATE_SLACK_BYTES

    def _screen(
        self,
        reply: Reply,
        round_: int,
        already: set[Address],
        limit: int,
        sample: frozenset[Address] | None = None,
        state: State | None = None,
    ) -> tuple[Any, str | None]:
        """Check a reply's commitment before anything is stored: ``(event, None)``, ``(event, reason)`` if it is
        refused (also when it comes from outside the round's ``sample``), ``(None, reason)`` if it names no
        participant; ``(event, "")`` if it was committed already."""
        if reply.error is not None or reply.event is None or reply.update is None:
            return None, reply.error or "reply carries no commitment or update"
        try:
            event = event_from_dict(reply.event)
        except LedgerMLError as exc:
            return None, f"malformed commitment: {exc}"
        payload = event.payload
        if event.kind != "UpdateCommitted" or payload.get("task_id") != self.task_id or payload.get("round") != round_:
            return event, f"commitment is not for task {self.task_id!r} round {round_}"
        if event.actor in already:
            return event, ""  # committed before an interruption; that commitment stands
        if sample is not None and event.actor not in sample:
            return event, not_sampled_reason(round_)
        if not isinstance(reply.update, bytes | bytearray) or len(reply.update) > limit:
            size = len(reply.update) if isinstance(reply.update, bytes | bytearray) else "?"
            return event, f"update is {size:,} bytes; at most {limit:,} are accepted"
        state = self.ledger.state() if state is None else state
        claimed, bound = payload.get("num_examples"), example_bound(state, self.task_id, event.actor)
        if type(claimed) is not int or not 0 <= claimed <= bound:
            return event, f"{EXAMPLES_EXCEED}{str(claimed)[:40]} exceeds the {bound} registered records"
        refusal = _dry_run(state, event, self._envelope(state, event))
        if refusal is not None:
            return event, f"commitment refused ({type(refusal).__name__}): {refusal}"
        return event, None

    def _receipt_for(self, event: Any, round_: int, state: State | None = None) -> dict[str, Any] | None:
        """A signed receipt for a received commitment to this round, signed by its participant; else None."""
        if event is None or event.kind != "UpdateCommitted":
            return None
        if event.payload.get("task_id") != self.task_id or event.payload.get("round") != round_:
            return None
        if self._envelope(self.ledger.state() if state is None else state, event) is not None:
            return None
        return issue_receipt(self.aggregator, event, self.task_id, round_)

    def _envelope(self, state: State, event: Event) -> RejectedEvent | None:
        """What ``check_envelope`` raises for ``event`` (bad signature, signer, ledger), or None; recovered once
        per event and round (the receipt and the dry run both need it)."""
        key = (bytes(event.digest), bytes(event.signature))
        if key not in self._envelopes:
            try:
                check_envelope(state, event)
                self._envelopes[key] = None
            except RejectedEvent as exc:
                self._envelopes[key] = exc
        return self._envelopes[key]

    def _accept_commitments(
        self, round_: int, replies: list[Reply]
    ) -> tuple[list[tuple[str, str]], dict[Address, str], dict[str, bytes]]:
        """Screen every reply, store the bytes of those that pass, then append their commitments (in one batch
        when ``batch_commitments``); the invalid replies, digest mismatches and the bytes received by digest."""
        invalid: list[tuple[str, str]] = []
        state = self.ledger.state()  # nothing is appended while the replies are screened
        already = set(commits(state, self.task_id, round_))
        limit = self.max_update_bytes(state)
        sample = self.sampler.sample(round_)
        passed: list[tuple[Reply, Any]] = []
        self._envelopes = {}
        for reply in sorted(replies, key=lambda r: r.node):
            try:
                event, reason = self._screen(reply, round_, already, limit, sample, state)
            except Exception as exc:  # a hostile reply never stops the round
                event, reason = None, f"reply cannot be checked: {_describe(exc)}"
            receipt = self._receipt_for(event, round_, state)
            if receipt is not None:
                self.receipts[reply.node] = receipt
            if reason is not None and reason != "":
                invalid.append(_invalid_entry(reply, event, reason))
            elif reason is None:
                passed.append((reply, event))
                already.add(event.actor)  # a second reply of the same participant is not committed again
        data = [_as_bytes(reply.update) for reply, _ in passed]
        stored = [str(self.store.put(update)) for update in data]  # bytes first
        refused = self._append_commitments([event for _, event in passed])
        mismatches: dict[Address, str] = {}
        received_bytes: dict[str, bytes] = {}
        for (_, event), update, received in zip(passed, data, stored, strict=True):
            if event.actor in refused:
                invalid.append((event.actor, refused[event.actor]))
            elif received != event.payload["update_digest"]:
                mismatches[event.actor] = f"{MISMATCH}{received}"
            else:
                received_bytes[received] = update
        return invalid, mismatches, received_bytes

    def _append_commitments(self, events: list[Any]) -> dict[Address, str]:
        """Append the screened commitments (one ``append_batch``: one transaction, one state-machine pass, when
        ``batch_commitments`` and the backend's batches are atomic); if the batch is refused, one by one. The
        refused ones, with the reason. (A non-atomic batch could land part of a round and then fail, so the
        EVM backend appends one by one.)"""
        atomic = getattr(getattr(self.ledger, "capabilities", None), "atomic_batches", False)
        if self.batch_commitments and atomic and len(events) > 1:
            try:
                self.ledger.append_batch(events)
                return {}
            except RejectedEvent:
                pass  # something changed since screening: find out which, one by one
        refused: dict[Address, str] = {}
        for event in events:
            try:
                self.ledger.append(event)
            except RejectedEvent as exc:
                refused[event.actor] = f"commitment refused ({type(exc).__name__}): {exc}"
        return refused

    def _judge(
        self,
        state: State,
        committed: dict[Address, CommitRecord],
        template: Weights,
        received: dict[str, bytes],
        mismatches: dict[Address, str],
        sample: frozenset[Address] | None = None,
    ) -> tuple[dict[Address, str], dict[Address, Weights]]:
        """Validate every committed update: the rejection reasons and the usable weights. A commitment from
        outside the round's ``sample`` (one its participant appended itself) is rejected unread."""
        rejected: dict[Address, str] = {}
        usable: dict[Address, Weights] = {}
        for participant, commit in sorted(committed.items()):
            if sample is not None and participant not in sample:
                rejected[participant] = not_sampled_reason(self.open_round(state) or 0)
                continue
            weights, reason = update_verdict(
                self.store,
                commit,
                template,
                self.record.max_update_norm,
                received,
                example_bound=example_bound(state, self.task_id, participant),
            )
            if weights is None:
                rejected[participant] = mismatches.get(participant, reason or "unusable")
            else:
                usable[participant] = weights
        return rejected, usable

    def _screen_updates(
        self, state: State, round_: int, usable: dict[Address, Weights], template: Weights, rejected: dict[Address, str]
    ) -> tuple[dict[Address, Weights], dict[str, float]]:
        """Apply the task's screening policy (if it declared one) to the usable updates: store an explanation for
        every flagged participant, move the excluded ones to ``rejected``; the kept updates and the round's
        screening metrics (``screening_flagged``). The auditor replays exactly this (``federated.screening``)."""
        from .screening import replay_until, screen_round

        if not self.record.screening_policy():
            return usable, {}
        cached = getattr(self, "_screening", None)
        screening, policy = replay_until(state, self.store, self.record, round_, update_verdict, cached)
        step = screen_round(screening, policy, round_, {str(a): w for a, w in usable.items()}, template)
        self._screening = screening
        for document in step.explanations.values():
            self.store.put(document)
        rejected.update({Address(a): reason for a, reason in step.rejections.items()})
        return {Address(a): w for a, w in step.kept.items()}, {"screening_flagged": float(step.flagged)}

    def _store_aggregate(self, weights: Weights) -> str:
        """Store the round's aggregate; it is kept in memory as the next global model (once the round finalizes)."""
        encoded = to_bytes(weights)
        digest = str(self.store.put(encoded))
        self._model = (digest, encoded)
        return digest

    def process_round(
        self,
        replies: list[Reply],
        *,
        evaluate: Callable[[Weights], dict[str, float]] | None = None,
        strategy: Any = None,
    ) -> RoundOutcome:
        """Commit what arrived, judge every committed update, aggregate, and finalize the open round.

        Whatever the replies hold, the round finalizes: a failure in validation or aggregation is a rejection
        reason or a failed round, a failing or non-finite evaluation is left out of the metrics."""
        opened = self.ledger.state()  # one read for the round and its template
        round_ = self.open_round(opened)
        if round_ is None:
            raise ConfigError(f"task {self.task_id!r} is finished")
        template = self.global_weights(opened)
        self.receipts = {}
        invalid, mismatches, received = self._accept_commitments(round_, replies)
        state = self.ledger.state()
        committed = commits(state, self.task_id, round_)
        sample = self.sampler.sample(round_)  # after the commitments: fixed by the round's first one
        rejected, usable = self._judge(state, committed, template, received, mismatches, sample)
        usable, screened = self._screen_updates(state, round_, usable, template, rejected)
        examples = {a: c.num_examples for a, c in committed.items()}
        decision = decide_round(self.record, template, usable, examples, round_=round_, strategy=strategy)
        accepted = decision.accepted()
        rejected.update(decision.rule_rejections())
        metrics: dict[str, float] = {
            "committed": float(len(committed)),
            "accepted": float(len(accepted)),
            "rejected": float(len(rejected)),
            "invalid": float(len(invalid)),
        }
        metrics.update(_dp_metrics(self.record, round_))
        metrics.update(screened)
        if decision.weights is not None and len(accepted) >= self.record.min_participants:
            weights_next = decision.weights
            aggregate_digest: str | None = self._store_aggregate(weights_next)
            status = "ok"
        else:
            weights_next, aggregate_digest, status = template, None, "failed"
        if evaluate is not None:
            metrics.update(_evaluation(evaluate, weights_next))
        self.ledger.submit(
            self.aggregator,
            RoundFinalized(
                task_id=self.task_id,
                round=round_,
                status=status,
                aggregate_digest=aggregate_digest,
                accepted=sorted(accepted),
                rejected=[Rejection(participant=a, reason=r[:512]) for a, r in sorted(rejected.items())],
                invalid=[Rejection(participant=_as_participant(n), reason=r) for n, r in invalid],
                metrics=metrics,
            ),
        )
        return RoundOutcome(
            round_, status, aggregate_digest, sorted(accepted), rejected, invalid, metrics, weights_next, self.receipts
        )


def _dp_metrics(record: TaskRecord, round_: int) -> dict[str, float]:
    """The privacy budget spent after ``round_`` (``dp_epsilon``) for a DP task, when it is finite."""
    dp = record.dp_params()
    if not dp:
        return {}
    epsilon = gaussian_epsilon(float(dp["noise_multiplier"]), round_, float(dp["delta"]))  # type: ignore[arg-type]
    return {"dp_epsilon": epsilon} if math.isfinite(epsilon) else {}


def _evaluation(evaluate: Callable[[Weights], dict[str, float]], weights: Weights) -> dict[str, float]:
    """The evaluation's finite metrics; a failing evaluation or a non-finite value is counted, not recorded."""
    try:
        raw = dict(evaluate(weights))
    except Exception:
        return {"evaluation_failed": 1.0}
    kept: dict[str, float] = {}
    for key, value in raw.items():
        number = _finite_or_nan(value)
        if math.isfinite(number):
            kept[str(key)] = number
    if len(kept) < len(raw):
        kept["nonfinite_metrics"] = float(len(raw) - len(kept))
    return kept


def _finite_or_nan(value: object) -> float:
    """``value`` as a float if it is a real number, else NaN (never raises)."""
    try:
        return float(value) if isinstance(value, int | float | np.number) and not isinstance(value, bool) else math.nan
    except (OverflowError, ValueError, TypeError):
        return math.nan


def _dry_run(state: Any, event: Any, envelope: RejectedEvent | None) -> RejectedEvent | None:
    """Would the state machine accept ``event`` now? The rejection it would raise, or None (state unchanged).

    ``envelope`` is what ``check_envelope`` raised for it (or None): ``apply``'s checks run in ``apply``'s order
    (the size bound, then the envelope, then the rules) without recovering the signature a second time."""
    if envelope is not None and len(event.body) <= MAX_EVENT_BYTES:
        return envelope
    try:
        with state.trial():
            apply(state, event, check_signature=False)
    except RejectedEvent as exc:
        return exc
    return None


def _as_bytes(update: bytes | bytearray | None) -> bytes:
    """A reply's update as immutable bytes (no copy when it is bytes already)."""
    return update if isinstance(update, bytes) else bytes(update or b"")


def _invalid_entry(reply: Reply, event: Any, reason: str) -> tuple[str, str]:
    """An invalid reply as (who, reason): the participant its commitment claims, else the node's participant
    known from its signed join, else the node id; the reason names the node when the reply names no one."""
    from ..types import is_checksum_address

    if event is not None:
        return event.actor, reason[:512]
    text = reason if is_checksum_address(reply.node) else f"node {reply.node}: {reason}"
    return reply.participant or reply.node, text[:512]


def reply_event_json(value: object, what: str) -> Any:
    """An event's JSON from a reply, parsed within the bounds of an event (size and nesting)."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a JSON string")
    return loads_bounded(value, what=what, max_bytes=MAX_EVENT_BYTES, max_depth=MAX_COMMITMENT_DEPTH)


def _as_participant(node: str) -> str:
    """Invalid replies name their claimed participant if they have one, else a placeholder address."""
    from ..types import is_checksum_address

    return node if is_checksum_address(node) else "0x" + "0" * 40


def _task_created(**fields: Any) -> TaskCreated:
    """The ``TaskCreated`` payload; ``ConfigError`` naming the first refused field (not pydantic's report)."""
    try:
        return TaskCreated(**fields)
    except ValueError as exc:
        errors = getattr(exc, "errors", None)
        first = errors()[0] if callable(errors) else None
        where = ".".join(str(p) for p in first["loc"]) if first else "task"
        detail = first["msg"] if first else str(exc).splitlines()[0]
        raise ConfigError(f"setting {where!r} of the task is refused: {detail}") from None


def model_documents(model: Model | Weights) -> tuple[bytes, bytes]:
    """The model spec document (canonical JSON with ``arrays``: name -> shape and dtype) and the initial
    weights (safetensors) of a ledgerml model or of an app's own arrays."""
    if isinstance(model, dict):
        weights = {str(name): np.asarray(array) for name, array in model.items()}
        spec: dict[str, Any] = {"type": ARRAYS_SPEC}
    else:
        weights, spec = model.get_weights(), dict(model.spec)
    if not weights:
        raise ConfigError("the initial model has no arrays")
    spec["arrays"] = describe_arrays(weights)
    return canonical_json(spec), to_bytes(weights)


def _sign_batch(ledger: LedgerBackend, bodies: Sequence[tuple[Identity, Payload]]) -> list[Event]:
    """Sign each body with consecutive nonces per signer, for one ``append_batch``."""
    nonces: dict[str, int] = {}
    events = []
    for signer, body in bodies:
        add_signer = getattr(ledger, "add_signer", None)  # the EVM backend sends from each actor's own key
        if add_signer is not None:
            add_signer(signer)
        nonce = nonces.get(signer.address, ledger.next_nonce(signer.address))
        events.append(sign_event(signer, ledger.ledger_id, body, nonce))
        nonces[signer.address] = nonce + 1
    return events
