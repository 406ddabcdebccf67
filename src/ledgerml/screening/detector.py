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

import numpy as np

DETECTORS = ("history",)
"""Known detectors."""
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
TINY = 1e-12
SIM_CAP = 1e-6
"""``1 - cosine`` below this counts as identical (caps the similarity excess)."""
MIN_NORM_SPREAD = 0.4
"""Smallest robust spread of log norms (a factor of about 1.3)."""
MIN_ANGLE_SPREAD = 0.15
"""Smallest robust spread of angles, in radians (about 9 degrees)."""
SIM_GATE = 1e-2
"""A cosine to another participant's change above ``1 - SIM_GATE`` (0.99) starts to count as copying."""
SIM_WEIGHT = 4.0
"""Similarity excess per decade of ``1 - cosine`` below ``SIM_GATE`` (identical changes: 16)."""


@dataclass(frozen=True)
class ParticipantHistory:
    """What the detector remembers of one participant: its past direction and reputation."""

    rounds: int = 0
    direction: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    reputation: float = 0.0


History = dict[str, ParticipantHistory]


@dataclass(frozen=True)
class RoundScores:
    """A round's scores, the features behind them, and everyone's history after the round."""

    scores: dict[str, float]
    features: dict[str, dict[str, float]]
    history: History = field(repr=False)


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > TINY else np.zeros_like(vector)


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    """Angle between two vectors in radians; pi/2 when either is zero."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na <= TINY or nb <= TINY:
        return math.pi / 2
    return float(math.acos(max(-1.0, min(1.0, float(a @ b) / (na * nb)))))


def _mad(values: np.ndarray) -> float:
    """1.4826 times the median absolute deviation (a robust standard deviation)."""
    return float(1.4826 * np.median(np.abs(values - np.median(values)))) if values.size else 0.0


def _excess(values: np.ndarray, floor: float, *, two_sided: bool = False) -> np.ndarray:
    """How far each value lies above the median (or from it, ``two_sided``), in robust spreads. One-sided, the
    spread is measured on the values at or below the median only, so that up to half of the participants
    lying high (the attackers) cannot widen it."""
    centre = float(np.median(values))
    low = values[values <= centre]
    spread = max(_mad(values) if two_sided else float(1.4826 * np.median(centre - low)), floor)
    gap = np.abs(values - centre) if two_sided else np.maximum(values - centre, 0.0)
    return np.asarray(gap / spread)


def _similarities(matrix: np.ndarray) -> np.ndarray:
    """Each row's largest cosine to another row (0 for a lone row or a zero row)."""
    n = matrix.shape[0]
    units = np.stack([_unit(row) for row in matrix])
    cosines = units @ units.T
    np.fill_diagonal(cosines, -1.0)
    return np.asarray(cosines.max(axis=1)) if n > 1 else np.zeros(n)


def _sq_distances(matrix: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances between rows (elementwise, no BLAS: reproducible bits)."""
    n = matrix.shape[0]
    out = np.zeros((n, n))
    for i in range(n):
        diff = matrix - matrix[i]
        out[i] = np.einsum("ij,ij->i", diff, diff)
    return out


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


def score_round(deltas: dict[str, np.ndarray], history: History | None = None) -> RoundScores:
    """Score every participant of one round from its change (``deltas``: participant -> flat float64 change)
    and its history; deterministic and independent of the dict's order."""
    history = dict(history or {})
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
