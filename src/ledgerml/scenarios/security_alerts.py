"""Signed alerts for a federation's rejected updates (``AlertRaised``, H2's alerts API): one per round in which
the robust rule refused a participant's update, with an explanation any auditor re-derives from the round's
record on the ledger alone (method ``scenario.rejected_update``)."""

from __future__ import annotations

from typing import Any

from .._json import loads_bounded
from ..errors import TamperDetected
from ..state import State
from ..vocab.tasks import round_record, task

METHOD = "scenario.rejected_update"
DETECTOR = "federation.robust-rule/v1"
SCORE, THRESHOLD, DECISION = 1.0, 0.5, "exclude"
"""A rejected update scores 1 (an accepted one would score 0) against 0.5; the rule excluded it."""


def explanation(state: State, task_id: str, round_: int, participant: str) -> dict[str, Any]:
    """What drove the decision, from the ledger only: the task's rule, the round's reason and its aggregate."""
    record, finalized = task(state, task_id), round_record(state, task_id, round_)
    if record is None or finalized is None:
        raise TamperDetected(f"task {task_id!r} has no finalized round {round_}")
    reasons = dict(finalized.rejected)
    if participant not in reasons:
        raise TamperDetected(f"{participant} was not rejected in round {round_} of {task_id!r}")
    return {
        "method": METHOD,
        "task": task_id,
        "round": round_,
        "participant": participant,
        "rule": record.rule,
        "rule_params": loads_bounded(record.rule_params),
        "reason": reasons[participant],
        "round_event": finalized.event_id,
        "aggregate": finalized.aggregate_digest,
    }


def rejected_rounds(state: State, task_id: str, participant: str, rounds: int) -> list[int]:
    """The rounds (1..``rounds``) in which ``participant``'s update was rejected."""
    return [
        r
        for r in range(1, rounds + 1)
        if (found := round_record(state, task_id, r)) is not None and participant in dict(found.rejected)
    ]


def raise_rejection_alerts(home: Any, task_id: str, aggregator: str, participant: str, rounds: int) -> list[str]:
    """Sign one alert per round that rejected ``participant``, as the task's aggregator; their event ids."""
    from ..alerts import raise_alert

    signer = home.identity(aggregator)
    with home.open_ledger() as ledger:
        ids = []
        for r in rejected_rounds(ledger.state(), task_id, participant, rounds):
            receipt = raise_alert(
                ledger,
                home.store(),
                signer,
                detector=DETECTOR,
                subject={"type": "participant", "id": participant, "task": task_id, "round": r},
                score=SCORE,
                threshold=THRESHOLD,
                decision=DECISION,
                explanation=explanation(ledger.state(), task_id, r, participant),
            )
            ids.append(receipt.event_id)
        if ledger.validator is not None:
            ledger.seal()
    return ids


def rederive(ctx: Any, stored: dict[str, Any]) -> Any:
    """The alerts audit's re-deriver: the same explanation, score and decision from the round record."""
    from ..alerts.audit import Rederived

    try:
        task_id, round_, participant = str(stored["task"]), int(stored["round"]), str(stored["participant"])
    except (KeyError, TypeError, ValueError):
        raise TamperDetected("the explanation lacks task, round or participant") from None
    return Rederived(SCORE, THRESHOLD, DECISION, explanation(ctx.state, task_id, round_, participant))
