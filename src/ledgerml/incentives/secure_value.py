"""Contributions of a secure round, from what secure aggregation reveals: the published aggregate and the
weight each survivor's masked input carried (its ``SecAggInput``), never a single update.

Leave-one-out, exact and Monte Carlo Shapley all need the utility of coalitions of single updates, which the
protocol hides; under ``secure`` the round's validation gain ``v(aggregate) - v(base)`` is split among the
survivors in proportion to their recorded weights (``secure_weight_share``). The auditor recomputes it from the
ledger and the validation set alone.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import ConfigError
from ..ml.serialization import Weights, from_bytes
from ..state import State
from ..store import ArtifactStore
from ..vocab.secagg import secagg_records
from ..vocab.tasks import TaskRecord, round_record

METHOD = "secure_weight_share"


def secure_round_values(
    state: State,
    store: ArtifactStore,
    record: TaskRecord,
    round_: int,
    score: Callable[[Weights], float],
    base_digest: str,
) -> dict[str, float]:
    """Each survivor's share of a finalized secure round's validation gain, split by recorded weights."""
    finalized = round_record(state, record.task_id, round_)
    if finalized is None or finalized.status != "ok" or finalized.aggregate_digest is None:
        raise ConfigError(f"round {round_} of {record.task_id!r} is not a finalized, successful round")
    gain = float(score(from_bytes(store.get(finalized.aggregate_digest)))) - float(
        score(from_bytes(store.get(base_digest)))
    )
    records = secagg_records(state, record.task_id, round_)
    people = sorted(str(a) for a in finalized.accepted)
    weights = [float(records[a].weight or 0) if a in records else 0.0 for a in people]
    total = sum(weights)
    return {a: gain * (w / total if total else 1.0 / len(people)) for a, w in zip(people, weights, strict=True)}
