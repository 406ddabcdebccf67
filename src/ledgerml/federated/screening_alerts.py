"""Signed alerts for screening flags (``ledgerml monitor task --raise-alerts``) and their re-derivation by
``ledgerml audit alert``: the explanation holds the features and the participant's history that drove the
score, and the digests of the stored inputs; the auditor recomputes it from the ledger and the store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import ConfigError, NotFound
from ..home import Home
from ..identity import Identity
from ..vocab.tasks import commits
from .coordinator import update_verdict
from .screening import ScoredRound, TaskScreening, policy_of, score_rows, screenable

METHOD = "federation.screening"
"""The explanation's ``method`` (the key of its re-deriver in ``alerts.audit.REDERIVERS``)."""
DETECTOR = "federation.history/v1"
"""The detector name the alerts of a ``history`` task carry (``detector_name``)."""


def detector_name(detector: str) -> str:
    """The detector name a task's screening alerts carry: ``federation.history/v1``, ``federation.consensus/v2``,
    ``federation.alignment/v3``, ``federation.separation/v4``."""
    from ..screening.detector import DETECTOR_VERSIONS

    return DETECTOR if detector == "history" else f"federation.{detector}/v{DETECTOR_VERSIONS[detector]}"


def detectors_by_name() -> dict[str, str]:
    """Every screening detector by the name its alerts carry (``detector_name``'s inverse)."""
    from ..screening.detector import DETECTORS

    return {detector_name(detector): detector for detector in DETECTORS}


def detector_of(name: str) -> str:
    """The screening detector an alert's detector name stands for; ``ConfigError`` if it names none."""
    detector = detectors_by_name().get(name)
    if detector is None:
        raise ConfigError(f"alert detector {name!r} is not a federation screening detector"[:200])
    return detector


def alert_explanation(
    screening: TaskScreening, scored: ScoredRound, participant: str, past: list[dict[str, Any]]
) -> dict[str, Any]:
    """The explanation of one participant's score in one round (JSON data only, deterministic)."""
    features = scored.scored.features.get(participant)
    committed = commits(screening.state, screening.record.task_id, scored.round)
    return {
        "method": METHOD,
        "task": screening.record.task_id,
        "round": scored.round,
        "participant_address": participant,
        "score": scored.scores[participant],
        "features": {k: float(v) for k, v in sorted((features or {}).items())},
        "unusable": scored.unusable.get(participant),
        "history": past,
        "inputs": {
            "base_model": scored.base_digest,
            "updates": {a: c.update_digest for a, c in sorted(committed.items())},
        },
    }


def _walk(screening: TaskScreening, upto: int | None = None) -> list[tuple[ScoredRound, dict[str, list[Any]]]]:
    """Every scored round with each participant's history of earlier scores."""
    history: dict[str, list[dict[str, Any]]] = {}
    out = []
    for scored in screening.rounds(upto):
        out.append((scored, {p: list(history.get(p, [])) for p in scored.scores}))
        for participant, score in scored.scores.items():
            history.setdefault(participant, []).append({"round": scored.round, "score": score})
    return out


def raise_task_alerts(
    home: Home,
    task_id: str,
    identity: Identity,
    labels: dict[str, str],
    rows: list[dict[str, Any]] | None = None,
    on_round: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Sign one ``AlertRaised`` per flagged participant-round not alerted already; the alerts raised. With
    ``rows``, the same single replay also appends every round's score rows to it (``screening.score_rows``)."""
    from ..alerts import raise_alert
    from ..vocab.alerts import alerts_of, check_may_raise_alerts

    raised: list[dict[str, Any]] = []
    with home.open_ledger() as ledger:
        state = ledger.state()
        check_may_raise_alerts(state, identity.address)  # before anything is written
        screening = screenable(state, home.store(), task_id, update_verdict)
        policy = policy_of(screening.record)
        name_of = detector_name(policy.detector)
        screening_names = detectors_by_name()
        # one alert per participant-round, whichever version raised it (a task without a policy is scored with
        # the default of the day, which a later release may change)
        done = {(r.task, r.round, r.subject_id) for _, r in alerts_of(state) if r.detector in screening_names}
        walked = _walk(screening)
        for scored, past in walked:
            if rows is not None:
                rows.extend(score_rows(scored, policy, lambda a: labels.get(a, a)))
            if on_round is not None:
                on_round(scored.round, len(walked))
            for participant, score in sorted(scored.scores.items()):
                name = labels.get(participant, participant)
                if policy.decision(score) == "ok" or (task_id, scored.round, name) in done:
                    continue
                receipt = raise_alert(
                    ledger,
                    home.store(),
                    identity,
                    detector=name_of,
                    subject={"type": "participant", "id": name, "task": task_id, "round": scored.round},
                    score=score,
                    threshold=policy.threshold,
                    decision=policy.decision(score),
                    explanation=alert_explanation(screening, scored, participant, past[participant]),
                )
                raised.append({"alert": receipt.event_id, "round": scored.round, "participant": name})
        if raised and ledger.validator is not None:
            ledger.seal()
    return raised


def rederive(ctx: Any, explanation: dict[str, Any]) -> Any:
    """Re-derive a screening alert from the ledger and the store (``alerts.audit`` re-deriver)."""
    from ..alerts.audit import Rederived

    task_id, round_, participant = (
        explanation.get("task"),
        explanation.get("round"),
        explanation.get("participant_address"),
    )
    if not isinstance(task_id, str) or type(round_) is not int or not isinstance(participant, str):
        raise ConfigError("the screening explanation names no task, round or participant")
    screening = TaskScreening.open(ctx.state, ctx.store, task_id, update_verdict)
    if ctx.detector is not None:
        screening.detector = detector_of(ctx.detector)  # the alert's own detector, not today's default
    from ..vocab.tasks import progress

    if not 1 <= round_ <= progress(ctx.state, task_id).finalized:
        raise NotFound(f"round {round_} of task {task_id!r} is not finalized")
    walked = _walk(screening, round_)
    if participant not in walked[-1][0].scores:
        raise NotFound(f"round {round_} of task {task_id!r} has no score for {participant}")
    scored, past = walked[-1]
    policy = policy_of(screening.record)
    score = scored.scores[participant]
    again = alert_explanation(screening, scored, participant, past[participant])
    return Rederived(score, policy.threshold, policy.decision(score), again)
