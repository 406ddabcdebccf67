"""Per-round contributions, rewards, slashing and settlement, all as ledger events; and their audit.

Utility of a coalition S of a round's accepted updates: validation accuracy of the round's base model plus
``sum over i in S of (n_i / N) * change_i``, with n_i the examples behind update i and N those of all accepted
updates - the round's FedAvg aggregate as if everyone outside S had sent no change (rebuilt from the stored
updates, no retraining). v(N) is the aggregate itself, v(empty) the base model. A participant that returns the
model unchanged (a free rider) is therefore a null player: Shapley value exactly 0, no reward.

Updates with the same digest are one player whose value their submitters share, so duplicating an update
(sybils) earns nothing extra. The validation set is the task's registered validation dataset, held by the
aggregator; the auditor needs a copy and checks it against the registered digest. For a task whose model is
the app's own (a Flower app with ``ledger_mod``), the utility is a server-side score function instead
(``Scorer``: arrays by name -> a number, e.g. validation accuracy), passed wherever a validation set goes.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._json import loads_bounded
from ..errors import ConfigError
from ..identity import Identity
from ..ledger.base import LedgerBackend
from ..ml.data import read_csv
from ..ml.models import build_model
from ..ml.serialization import Weights, flatten, from_bytes, unflatten
from ..state import State
from ..store import ArtifactStore
from ..vocab.rewards import RewardPaid, StakeSlashed, TaskSettled, expected_payments, payouts, round_budget
from ..vocab.tasks import TaskRecord, commits, progress, round_record, task
from ..vocab.tokens import pool, stake
from .valuation import (
    Utility,
    Valuation,
    adjusted_kernel_shapley,
    exact_shapley,
    kernel_budget,
    kernel_shapley,
    leave_one_out,
    monte_carlo_shapley,
)

log = logging.getLogger("ledgerml.incentives")
Scorer = Callable[[Weights], float]
"""A server-side score of a model's arrays (higher is better): the utility for an app's own model."""
Validation = tuple[np.ndarray, np.ndarray] | Scorer
"""What values a coalition: the task's validation set (features, labels) for a ledgerml model, or a Scorer."""
MICRO = 1_000_000
EXACT_UP_TO = 10


@dataclass(frozen=True)
class RoundValue:
    """A round's valuation: per-address contributions (micro-units of accuracy) and how they were computed."""

    contributions: dict[str, int]
    valuation: Valuation
    players: list[list[str]]  # addresses sharing each distinct update


def load_validation(path: str | Path, record: TaskRecord) -> tuple[np.ndarray, np.ndarray]:
    """The task's validation set from ``path``, checked against the registered dataset digest."""
    from ..provenance import build_manifest

    if record.validation_dataset is None:
        raise ConfigError(f"task {record.task_id!r} names no validation dataset, so contributions cannot be valued")
    if str(build_manifest(path).digest) != record.validation_dataset:
        raise ConfigError(f"{path} is not the task's registered validation dataset {record.validation_dataset}")
    return read_csv(Path(path))


def _round_seed(task_id: str, round_: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{task_id}:{round_}".encode()).digest()[:8], "big")


def round_utility(
    state: State,
    store: ArtifactStore,
    record: TaskRecord,
    round_: int,
    spec: dict[str, Any],
    validation: Validation,
) -> tuple[Utility, list[list[str]]]:
    """The utility of a finalized round's accepted updates, and the addresses behind each player (one player
    per distinct update digest)."""
    finalized = round_record(state, record.task_id, round_)
    if finalized is None or finalized.status != "ok":
        raise ConfigError(f"round {round_} of {record.task_id!r} is not a finalized, successful round")
    base = from_bytes(store.get(_base_digest(state, record, round_)))
    round_commits: dict[str, Any] = {str(k): v for k, v in commits(state, record.task_id, round_).items()}
    by_digest: dict[str, list[str]] = {}
    for address in sorted(finalized.accepted):
        by_digest.setdefault(round_commits[address].update_digest, []).append(address)
    digests = sorted(by_digest)
    base_vec = flatten(base)
    deltas = [flatten(from_bytes(store.get(d))) - base_vec for d in digests]
    examples = [float(round_commits[by_digest[d][0]].num_examples) for d in digests]
    score = validation if callable(validation) else _accuracy(spec, validation)
    total = sum(examples) or float(len(examples))
    shares = [(e if sum(examples) else 1.0) / total for e in examples]

    def utility(coalition: frozenset[int]) -> float:
        # The round's aggregate as if the players outside the coalition had sent no change: weights stay the
        # round's shares, so an unchanged model (a free rider) never moves any coalition's utility.
        change = sum((shares[i] * deltas[i] for i in sorted(coalition)), np.zeros_like(base_vec))
        return float(score(unflatten(base_vec + change, base)))

    return utility, [by_digest[d] for d in digests]


def _accuracy(spec: dict[str, Any], validation: tuple[np.ndarray, np.ndarray]) -> Scorer:
    """Validation accuracy of the task's ledgerml model with given arrays."""
    X, y = validation
    model = build_model(spec)

    def score(weights: Weights) -> float:
        model.set_weights(weights)
        return model.evaluate(X, y)[1]

    return score


def value_round(
    state: State,
    store: ArtifactStore,
    record: TaskRecord,
    round_: int,
    spec: dict[str, Any],
    validation: Validation,
) -> RoundValue:
    """Value the accepted updates of one finalized round with the method the task names."""
    if record.secure_settings():  # no single update is visible: secure_value's weight share of the gain
        from .secure_value import METHOD, secure_round_values

        score = validation if callable(validation) else _accuracy(spec, validation)
        shares = secure_round_values(state, store, record, round_, score, _base_digest(state, record, round_))
        people = sorted(shares)
        valuation = Valuation(tuple(shares[a] for a in people), METHOD, 2)
        return RoundValue({a: round(shares[a] * MICRO) for a in people}, valuation, [[a] for a in people])
    utility, players = round_utility(state, store, record, round_, spec, validation)
    settings = loads_bounded(record.valuation)
    n = len(players)
    method = settings.get("method", "exact" if n <= EXACT_UP_TO else "monte_carlo")
    if method == "exact":
        valuation = exact_shapley(n, utility)
    elif method == "leave_one_out":
        valuation = leave_one_out(n, utility)
    elif method == "monte_carlo":
        valuation = monte_carlo_shapley(
            n,
            utility,
            permutations=int(settings.get("permutations", 4 * n)),
            truncation=float(settings.get("truncation", 0.0)),
            seed=_round_seed(record.task_id, round_),
        )
    elif method in ("kernel", "kernel_adjusted"):
        estimator = kernel_shapley if method == "kernel" else adjusted_kernel_shapley
        valuation = estimator(n, utility, max_evaluations=kernel_budget(n), seed=_round_seed(record.task_id, round_))
    else:
        raise ConfigError(
            f"unknown valuation method {method!r}: exact, monte_carlo, kernel, kernel_adjusted or leave_one_out"
        )
    contributions: dict[str, int] = {}
    for value, holders in zip(valuation.values, players, strict=True):
        share = round(value * MICRO) // len(holders)
        contributions.update({address: share for address in holders})
    return RoundValue(contributions, valuation, players)


def _base_digest(state: State, record: TaskRecord, round_: int) -> str:
    digest = record.initial_model
    for earlier in range(1, round_):
        found = round_record(state, record.task_id, earlier)
        if found is not None and found.aggregate_digest:
            digest = found.aggregate_digest
    return digest


class RoundSettler:
    """Pays each finalized round, slashes what the task says, and settles stakes at the end (aggregator)."""

    def __init__(
        self,
        ledger: LedgerBackend,
        store: ArtifactStore,
        aggregator: Identity,
        task_id: str,
        validation: Validation,
    ) -> None:
        self.ledger, self.store, self.aggregator, self.task_id = ledger, store, aggregator, task_id
        self.validation = validation
        record = task(ledger.state(), task_id)
        assert record is not None
        self.record = record
        self.spec: dict[str, Any] = loads_bounded(store.get(record.model_spec))

    @staticmethod
    def wanted(record: TaskRecord) -> bool:
        """True if the task has rewards or slashing to run."""
        return record.reward_pool > 0 or record.slash_amount > 0

    def settle_round(self, round_: int) -> RoundValue | None:
        """Slash rejected participants the task names, then pay the round (if it succeeded)."""
        state = self.ledger.state()
        finalized = round_record(state, self.task_id, round_)
        if finalized is None:
            return None
        round_commits: dict[str, Any] = {str(k): v for k, v in commits(state, self.task_id, round_).items()}
        for participant, reason in finalized.rejected:
            if any(reason.startswith(p) for p in self.record.slash_on):
                due = min(stake(state, self.task_id, participant), self.record.slash_amount)
                if due > 0 and state.get("slashes", (self.task_id, round_, participant)) is None:
                    self.ledger.submit(
                        self.aggregator,
                        StakeSlashed(
                            task_id=self.task_id,
                            round=round_,
                            participant=participant,
                            amount=due,
                            reason=reason,
                            update_digest=round_commits[participant].update_digest,
                        ),
                    )
        if finalized.status != "ok" or self.record.reward_pool == 0:
            return None
        if state.get("rewards", (self.task_id, round_)) is not None:
            return None  # paid before an interruption
        try:
            value = value_round(self.ledger.state(), self.store, self.record, round_, self.spec, self.validation)
            contributions = value.contributions
        except Exception as exc:  # a valuation that fails must not wedge the payout: nobody is paid for the round
            log.warning(
                "valuation of round %s of %s failed (%s): contributions recorded as 0", round_, self.task_id, exc
            )
            contributions = {str(a): 0 for a in finalized.accepted}
            value = None
        budget = min(round_budget(self.record), pool(self.ledger.state(), self.task_id))
        self.ledger.submit(
            self.aggregator,
            RewardPaid(
                task_id=self.task_id,
                round=round_,
                contributions=contributions,
                payments=expected_payments(budget, contributions),
            ),
        )
        return value

    def catch_up(self) -> list[int]:
        """Settle every finalized round that is not settled yet (a run killed between a round's
        ``RoundFinalized`` and its payout or slashes); returns the rounds it looked at."""
        done = progress(self.ledger.state(), self.task_id).finalized
        for round_ in range(1, done + 1):
            self.settle_round(round_)
        return list(range(1, done + 1))

    def finish(self) -> None:
        """Settle any unsettled round, then return the stakes once the last round is finalized."""
        self.catch_up()
        state = self.ledger.state()
        if progress(state, self.task_id).finalized >= self.record.rounds and state.get("settled", self.task_id) is None:
            self.ledger.submit(self.aggregator, TaskSettled(task_id=self.task_id))

    def callback(self, then: Callable[[Any], None] | None = None) -> Callable[[Any], None]:
        """An ``on_round`` hook for ``LedgerStrategy``: settle the round just finalized, then call ``then``."""

        def on_round(outcome: Any) -> None:
            self.settle_round(outcome.round)
            if then is not None:
                then(outcome)

        return on_round


def audit_rewards(ledger: LedgerBackend, store: ArtifactStore, task_id: str, validation: Validation) -> list[str]:
    """Recompute every round's contributions and payments and every slash; return the mismatches."""
    state = ledger.state()
    record = task(state, task_id)
    if record is None:
        raise ConfigError(f"task {task_id!r} does not exist")
    spec = loads_bounded(store.get(record.model_spec))
    problems: list[str] = []
    for round_ in range(1, progress(state, task_id).finalized + 1):
        paid = payouts(state, task_id).rewards.get(round_)
        finalized = round_record(state, task_id, round_)
        assert finalized is not None
        for (r, participant), slash in payouts(state, task_id).slashes.items():
            if r == round_ and dict(finalized.rejected).get(participant) != slash.reason:
                problems.append(
                    f"round {round_}: {participant} slashed {slash.amount} for a reason the round does not record"
                )
        problems += _slash_problems(state, record, round_, finalized.rejected)
        if finalized.status != "ok" or record.reward_pool == 0:
            continue
        if paid is None:
            problems.append(f"round {round_}: no reward was paid")
            continue
        try:
            value = value_round(state, store, record, round_, spec, validation)
        except Exception as exc:  # the settler records zero contributions when valuation fails; so must the replay
            if any(dict(paid.contributions).values()):
                problems.append(f"round {round_}: cannot recompute contributions: {exc}")
            continue
        if dict(paid.contributions) != value.contributions:
            problems.append(
                f"round {round_}: recorded contributions {dict(paid.contributions)} differ from the "
                f"recomputation {value.contributions}"
            )
    if progress(state, task_id).finalized >= record.rounds and state.get("settled", task_id) is None:
        problems.append("every round is finalized but the task is not settled (stakes not returned)")
    return problems


def expected_slash(state: State, record: TaskRecord, round_: int, participant: str, reason: str) -> int:
    """What the task's rules slash ``participant`` for its rejection in ``round_``: the slash amount, at most the
    stake it still held then (its stake at joining minus its slashes in earlier rounds); 0 if not slashable."""
    if not any(reason.startswith(prefix) for prefix in record.slash_on):
        return 0
    joined = state.get("participants", (record.task_id, participant))
    if joined is None:
        return 0
    slashes = payouts(state, record.task_id).slashes.items()
    earlier: int = sum(slash.amount for (r, who), slash in slashes if who == participant and r < round_)
    due: int = max(0, min(int(joined.stake) - earlier, record.slash_amount))
    return due


def _slash_problems(state: State, record: TaskRecord, round_: int, rejected: Any) -> list[str]:
    """Slashes the round's rejections call for that are missing or of the wrong amount."""
    problems = []
    for participant, reason in rejected:
        due = expected_slash(state, record, round_, participant, reason)
        found = state.get("slashes", (record.task_id, round_, participant))
        amount = 0 if found is None else found.amount
        if amount != due:
            problems.append(
                f"round {round_}: {participant} was rejected for {reason[:80]!r}: slash due {due}, recorded {amount}"
            )
    return problems
