"""The ``history`` detector: one suspicion score per participant per round, from the round's updates and each
participant's own past (pure numpy, deterministic: no randomness, participants taken in sorted order).

Per round, every update's change ``delta`` (update minus the round's base model) is compared with the round's
coordinate-wise median change and with the other updates; each comparison is turned into a robust, scale-free
excess (how far beyond the round's typical value, in units of the round's robust spread), so one threshold
works whatever the model, data or learning rate:

* ``norm``: ``|log(||delta|| / median norm)|`` - scaling, noise, free riding (a zero change);
* ``angle``: the angle to the median change, beyond the median angle - sign flips, IPM, label flips;
* ``distance``: the log of the mean distance to the nearest half of the others, beyond its median (Krum's idea);
* ``similarity``: FoolsGold's signal, the largest cosine to another participant's change; it counts only above
  0.99 (``SIM_GATE``), by decades of ``1 - cosine`` - sybils and colluders sending one update (ALIE, IPM);
* ``consistency``: FLDetector's signal, the angle between the change and the participant's own exponentially
  weighted past direction, beyond the round's median - a participant that turns.

The round's evidence is the root sum of squares of the excesses; once a participant has a past, half of it is
its reputation (the exponentially weighted mean of its earlier evidence). The score maps the evidence ``e`` to
[0, 1): ``e / (e + SCALE)``, higher = more suspicious.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ._vectors import (
    MIN_ANGLE_SPREAD,
    MIN_NORM_SPREAD,
    SIM_CAP,
    SIM_GATE,
    SIM_WEIGHT,
    TINY,
    _angle,
    _excess,
    _similarities,
    _sq_distances,
    _unit,
)

DETECTORS = ("history", "consensus", "alignment", "separation")
"""Known detectors: ``history`` (version 1), ``consensus`` (version 2) and ``alignment`` (version 3: version 2
measured against the core, ``screening.alignment``), kept for the tasks that declared them, and ``separation``
(version 4: version 3's evidence, a round's separated upper cluster lifted to the flag level;
``screening.calibrated``; the default)."""
DETECTOR_VERSIONS = {"history": 1, "consensus": 2, "alignment": 3, "separation": 4}
"""Each detector's version (alerts name it: ``federation.separation/v4``)."""
DEFAULT_DETECTOR = "separation"
"""The detector of a ``[screening]`` table that names none, and of a task that declared no policy."""
FEATURES = ("norm", "angle", "distance", "similarity", "consistency")
"""The per-round excesses, in the order explanations list them."""
DEFAULT_THRESHOLD = 0.5
"""Scores at or above this are flagged (the evidence equals ``SCALE``)."""
SCALE = 4.0
"""Evidence (in robust spreads) that maps to a score of 0.5."""
DECAY = 0.5
"""Weight of the past in a participant's reputation and direction (per round)."""
HISTORY_WEIGHT = 0.5
"""Share of the reputation in a round's evidence once the participant has a past."""


@dataclass(frozen=True)
class ParticipantHistory:
    """What the detector remembers of one participant: its past direction and reputation."""

    rounds: int = 0
    direction: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    reputation: float = 0.0


History = dict[str, Any]
"""Participant -> what the detector remembers of it (``ParticipantHistory``, or ``consensus.ConsensusHistory``)."""


@dataclass(frozen=True)
class RoundScores:
    """A round's scores, the features behind them, and everyone's history after the round."""

    scores: dict[str, float]
    features: dict[str, dict[str, float]]
    history: History = field(repr=False)


def round_features(matrix: np.ndarray, directions: list[np.ndarray | None]) -> dict[str, np.ndarray]:
    """The four excesses of each row of ``matrix`` (rows in participant order; ``directions`` their past
    directions, None without a past)."""
    centre = np.median(matrix, axis=0)
    norms = np.linalg.norm(matrix, axis=1)
    log_norms = np.log(np.maximum(norms, TINY * max(float(np.median(norms)), 1.0)))
    angles = np.array([_angle(row, centre) for row in matrix])
    gaps = np.maximum(1.0 - _similarities(matrix), SIM_CAP)
    similarity = SIM_WEIGHT * np.maximum(np.log10(SIM_GATE / gaps), 0.0)
    distances = np.sqrt(np.maximum(_sq_distances(matrix), 0.0))
    nearest = max(1, (len(matrix) - 1) // 2)
    spread = np.sort(distances + np.diag(np.full(len(matrix), np.inf)), axis=1)[:, :nearest].mean(axis=1)
    log_spread = np.log(np.maximum(spread, TINY * max(float(np.median(spread)), 1.0)))
    turns = np.array([_angle(row, d) if d is not None else np.nan for row, d in zip(matrix, directions, strict=True)])
    known = ~np.isnan(turns)
    consistency = np.zeros(len(matrix))
    if known.sum() >= 3:
        consistency[known] = _excess(turns[known], MIN_ANGLE_SPREAD)
    return {
        "norm": _excess(log_norms, MIN_NORM_SPREAD, two_sided=True),
        "angle": _excess(angles, MIN_ANGLE_SPREAD),
        "distance": _excess(log_spread, MIN_NORM_SPREAD),
        "similarity": similarity,
        "consistency": consistency,
    }


def score_round(
    deltas: dict[str, np.ndarray], history: History | None = None, detector: str = "history"
) -> RoundScores:
    """Score every participant of one round from its change (``deltas``: participant -> flat float64 change)
    and its history with ``detector`` (one of ``DETECTORS``); deterministic and independent of the dict's order."""
    weights = (HISTORY_WEIGHT, DECAY, SCALE)
    if detector == "consensus":
        from .consensus import score

        return RoundScores(*score(deltas, dict(history or {}), weights))
    if detector == "alignment":
        from .alignment import score as score_v3

        return RoundScores(*score_v3(deltas, dict(history or {}), weights))
    if detector == "separation":
        from .calibrated import score as score_v4

        return RoundScores(*score_v4(deltas, dict(history or {}), weights))
    if detector != "history":
        raise ValueError(f"unknown screening detector {detector!r}")
    history = {p: h for p, h in (history or {}).items() if isinstance(h, ParticipantHistory)}
    order = sorted(deltas)
    if not order:
        return RoundScores({}, {}, history)
    matrix = np.stack([np.asarray(deltas[p], dtype=np.float64) for p in order])
    past = [history.get(p, ParticipantHistory()) for p in order]
    directions = [h.direction if h.rounds and h.direction.size == matrix.shape[1] else None for h in past]
    excesses = round_features(matrix, directions) if len(order) >= 3 else {k: np.zeros(len(order)) for k in FEATURES}
    scores: dict[str, float] = {}
    features: dict[str, dict[str, float]] = {}
    for i, participant in enumerate(order):
        row = {name: float(excesses[name][i]) for name in FEATURES}
        current = combine(row)
        before = past[i]
        evidence = current if not before.rounds else (1 - HISTORY_WEIGHT) * current + HISTORY_WEIGHT * before.reputation
        scores[participant] = float(evidence / (evidence + SCALE))
        features[participant] = {**row, "evidence": float(evidence), "reputation": float(before.reputation)}
        history[participant] = _remember(before, matrix[i], current)
    return RoundScores(scores, features, history)


def combine(row: dict[str, float]) -> float:
    """A round's evidence from its excesses: their root sum of squares (one strong signal, or several weak)."""
    return float(math.sqrt(sum(value * value for value in row.values())))


def _remember(before: ParticipantHistory, delta: np.ndarray, evidence: float) -> ParticipantHistory:
    """The participant's history after a round: decayed direction and reputation."""
    unit = _unit(delta)
    if before.rounds and before.direction.size == unit.size:
        unit = _unit(DECAY * before.direction + (1 - DECAY) * unit)
        reputation = DECAY * before.reputation + (1 - DECAY) * evidence
    else:
        reputation = evidence
    return replace(before, rounds=before.rounds + 1, direction=unit, reputation=reputation)
