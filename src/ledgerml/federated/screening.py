"""A task's screening, replayed from the ledger and the artifact store: every finalized round's scores and
decisions (what ``ledgerml monitor task`` prints, what the coordinator acts on and the auditor re-derives).

The detector sees exactly the updates that passed validation (``update_verdict``, as the auditor replays it);
a committed update that failed validation scores 1.0 (the validation reason is its explanation).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._canonical import canonical_json
from ..errors import ConfigError, LedgerMLError, NotFound
from ..ml.serialization import Weights, flatten, from_bytes
from ..screening.detector import History, RoundScores, score_round
from ..screening.policy import EXPLANATION_FORMAT, SCREENING_REASON, Policy, check_policy, exclusion_reason
from ..state import State
from ..store import ArtifactStore
from ..types import Digest
from ..vocab.tasks import RoundRecord, TaskRecord, commits, example_bound, progress, round_record, task
from .sampling import not_sampled_reason

Verdict = Callable[..., tuple[Weights | None, str | None]]
"""``coordinator.update_verdict``'s signature: ``(store, commit, template, max_norm, example_bound=...)``."""


def policy_of(record: TaskRecord) -> Policy:
    """The task's declared policy, or the default flag-only policy when it declared none."""
    return check_policy(record.screening_policy())


def deltas_of(usable: dict[str, Weights], template: Weights) -> dict[str, np.ndarray]:
    """Each usable update's change from the round's base model, flat float64."""
    base = flatten(template)
    return {participant: flatten(weights) - base for participant, weights in usable.items()}


def explanation(round_: int, scored: RoundScores, participant: str, policy: Policy) -> dict[str, Any]:
    """The document that explains one participant's score: its features and the history that drove it."""
    return {
        "format": EXPLANATION_FORMAT,
        "round": round_,
        "participant": participant,
        "detector": policy.detector,
        "threshold": policy.threshold,
        "score": _rounded(scored.scores[participant]),
        "features": {k: _rounded(v) for k, v in sorted(scored.features[participant].items())},
        "history_rounds": int(scored.history[participant].rounds - 1),
    }


def _rounded(value: float) -> float:
    return float(f"{value:.9g}")


def explanation_bytes(document: dict[str, Any]) -> bytes:
    """The explanation's canonical JSON (what the store holds and a rejection reason names by digest)."""
    return canonical_json(document)


def replay_until(
    state: State,
    store: ArtifactStore,
    record: TaskRecord,
    round_: int,
    verdict: Verdict,
    cached: TaskScreening | None = None,
) -> tuple[TaskScreening, Policy]:
    """The task's screening with the history of every round before ``round_`` (``cached`` is reused when it
    has scored exactly those rounds), and the task's policy."""
    if cached is not None and cached.record.task_id == record.task_id and cached.scored == round_ - 1:
        return cached, policy_of(record)
    screening = TaskScreening(state, store, record, verdict)
    for _ in screening.rounds(upto=round_ - 1):
        pass
    return screening, policy_of(record)


@dataclass
class ScreeningStep:
    """What a round's screening decided: the updates kept, the exclusions (reasons) and the explanations."""

    kept: dict[str, Weights]
    rejections: dict[str, str]
    explanations: dict[str, bytes]
    scores: dict[str, float]

    @property
    def flagged(self) -> int:
        """How many participants scored at or above the threshold."""
        return len(self.explanations)


def screen_round(
    screening: TaskScreening, policy: Policy, round_: int, usable: dict[str, Weights], template: Weights
) -> ScreeningStep:
    """Score a round's usable updates (advancing the history) and apply the policy: every flagged participant
    gets a stored explanation; an excluding policy leaves it out of the aggregation with a reason naming it."""
    scored = screening.score(round_, usable, template)
    kept = dict(usable)
    rejections: dict[str, str] = {}
    explanations: dict[str, bytes] = {}
    for participant, score in sorted(scored.scores.items()):
        if score < policy.threshold:
            continue
        document = explanation_bytes(explanation(round_, scored, participant, policy))
        explanations[participant] = document
        if policy.excludes:
            rejections[participant] = exclusion_reason(score, policy.threshold, str(Digest.sha256(document)))
            del kept[participant]
    return ScreeningStep(kept, rejections, explanations, scored.scores)


def audit_screening(
    screening: TaskScreening,
    record: TaskRecord,
    round_: int,
    usable: dict[str, Weights],
    template: Weights,
    recorded: tuple[dict[str, str], dict[str, Any]],
) -> tuple[dict[str, Weights], list[str]]:
    """Replay one round's screening for the auditor: the updates the rule must then see, and every way the
    recorded round (``recorded``: rejection reasons, metrics) differs from the replay - an exclusion with
    another score or explanation, a missing or extra exclusion, a missing or changed explanation, another
    flag count."""
    if not record.screening_policy():
        return usable, []
    step = screen_round(screening, policy_of(record), round_, usable, template)
    reasons, metrics = recorded
    problems = []
    for participant in sorted(usable):
        expected, found = step.rejections.get(participant), reasons.get(participant)
        if expected is not None and found != expected:
            problems.append(f"{participant}: screening excludes it ({expected!r}) but the round records {found!r}")
        elif expected is None and found is not None and found.startswith(SCREENING_REASON):
            problems.append(f"{participant}: excluded by screening ({found!r}) but the replay scores it below")
    for participant, document in sorted(step.explanations.items()):
        digest = str(Digest.sha256(document))
        try:
            intact = screening.store.get(digest) == document
        except LedgerMLError:
            intact = False
        if not intact:
            problems.append(f"{participant}: screening explanation {digest} is missing or changed")
    if float(metrics.get("screening_flagged", -1)) != float(step.flagged):
        problems.append(f"screening flagged {step.flagged}, the round records {metrics.get('screening_flagged')}")
    return step.kept, problems


@dataclass
class ScoredRound:
    """One finalized round: each committed participant's score and the detector's output."""

    round: int
    scores: dict[str, float]
    unusable: dict[str, str]
    scored: RoundScores
    base_digest: str


@dataclass
class TaskScreening:
    """Walks a task's rounds in order, carrying each participant's history."""

    state: State
    store: ArtifactStore
    record: TaskRecord
    verdict: Verdict
    """``coordinator.update_verdict``: which committed updates are usable (passed in: no import cycle)."""
    history: History = field(default_factory=dict)
    scored: int = 0
    """The last round scored."""
    detector: str | None = None
    """The detector to score with; None: the one the task declared (the default if it declared no policy)."""

    @classmethod
    def open(cls, state: State, store: ArtifactStore, task_id: str, verdict: Verdict) -> TaskScreening:
        """The screening of ``task_id``; ``NotFound`` if there is no such task."""
        record = task(state, task_id)
        if record is None:
            raise NotFound(f"task {task_id!r} does not exist")
        return cls(state, store, record, verdict)

    def score(self, round_: int, usable: dict[str, Weights], template: Weights) -> RoundScores:
        """Score one round's usable updates against the history so far, and advance the history."""
        if round_ != self.scored + 1:
            raise ConfigError(f"screening scores rounds in order: round {self.scored + 1} is next, not {round_}")
        detector = self.detector or policy_of(self.record).detector
        scored = score_round(deltas_of(usable, template), self.history, detector)
        self.history, self.scored = scored.history, round_
        return scored

    def rounds(self, upto: int | None = None) -> Iterator[ScoredRound]:
        """Every finalized round (up to ``upto``), scored from the stored updates."""
        base_digest = self.record.initial_model
        last = progress(self.state, self.record.task_id).finalized if upto is None else upto
        for round_ in range(1, last + 1):
            recorded = round_record(self.state, self.record.task_id, round_)
            template = from_bytes(self.store.get(base_digest))
            usable: dict[str, Weights] = {}
            unusable: dict[str, str] = {}
            outside = _outside_sample(recorded, round_)  # never scored, as the coordinator and the auditor do
            for participant, commit in sorted(commits(self.state, self.record.task_id, round_).items()):
                if participant in outside:
                    continue
                bound = example_bound(self.state, self.record.task_id, participant)
                weights, reason = self.verdict(
                    self.store, commit, template, self.record.max_update_norm, example_bound=bound
                )
                if weights is None:
                    unusable[participant] = reason or "unusable"
                else:
                    usable[participant] = weights
            scored = self.score(round_, usable, template)
            scores = {**scored.scores, **dict.fromkeys(unusable, 1.0)}
            yield ScoredRound(round_, scores, unusable, scored, base_digest)
            if recorded is not None and recorded.aggregate_digest:
                base_digest = recorded.aggregate_digest


def _outside_sample(recorded: RoundRecord | None, round_: int) -> set[str]:
    """The participants a finalized round rejected as outside its sample (``federated.sampling``); ``audit task``
    checks that these are exactly the committed participants outside the keyed-hash sample."""
    if recorded is None:
        return set()
    reason = not_sampled_reason(round_)
    return {participant for participant, why in recorded.rejected if why == reason}


def screenable(state: State, store: ArtifactStore, task_id: str, verdict: Verdict) -> TaskScreening:
    """The screening of ``task_id``: ``NotFound`` without such a task, ``ConfigError`` for a secure task."""
    screening = TaskScreening.open(state, store, task_id, verdict)
    if screening.record.secure_settings():
        raise ConfigError(f"task {task_id!r} uses secure aggregation: no single update is stored, none can be scored")
    return screening


def score_rows(scored: ScoredRound, policy: Policy, label: Callable[[str], str] = str) -> list[dict[str, Any]]:
    """A scored round's rows of ``{"scores": [...]}``: round, participant (by ``label``), score, decision."""
    return [
        {"round": scored.round, "participant": label(p), "score": float(s), "decision": policy.decision(s)}
        for p, s in sorted(scored.scores.items())
    ]


def sorted_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows in the order ``monitor task`` prints them: by round, then participant."""
    return sorted(rows, key=lambda r: (r["round"], r["participant"]))


def task_scores(
    state: State,
    store: ArtifactStore,
    task_id: str,
    verdict: Verdict,
    label: Callable[[str], str] = str,
    on_round: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """``{"scores": [{"round", "participant", "score", "decision"}]}`` for every committed participant of every
    finalized round (``label`` names a participant by its address); ``on_round(done, total)`` reports progress."""
    screening = screenable(state, store, task_id, verdict)
    policy = policy_of(screening.record)
    total = progress(state, task_id).finalized
    rows: list[dict[str, Any]] = []
    try:
        for scored in screening.rounds():
            rows.extend(score_rows(scored, policy, label))
            if on_round is not None:
                on_round(scored.round, total)
    except LedgerMLError:
        raise
    except (ValueError, KeyError) as exc:
        raise ConfigError(f"task {task_id!r} cannot be screened: {exc}") from None
    return {"scores": sorted_rows(rows)}
