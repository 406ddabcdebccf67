"""The ``consensus`` detector (version 2 of ``history``): the same per-round, scale-free excesses, measured
against a reference that colluding copies cannot pull, plus two signals of persistent opposition to the
federation's consensus (pure numpy, deterministic; participants in sorted order).

What changes from ``history`` (whose maths stays as it was, for the tasks that declared it):

* the **reference** a change is compared with is the **geometric median** of the round's **distinct** changes
  **without the participant's own**: identical changes (sybils, colluders sending one update) count once, so
  copies cannot drag it towards them (they are the ``similarity`` signal instead); each change pulls the
  geometric median with unit force whatever its length, so a minority of long reversed changes cannot drag it
  as they drag the coordinate-wise median; and leaving the participant out matters under non-IID data, where
  changes are nearly orthogonal and a change's own pull is a large share of any consensus that includes it.
  The typical values (median norm, median angle, ...) are taken over distinct changes too, each side of a
  two-sided excess in units of the other side's spread, and Krum's ``distance`` ignores a change's copies;
* ``projection``: how far the change pulls back along its reference (its negative component along it, in units
  of the round's median change length - not of the reference's, which shrinks towards nothing when honest
  changes cancel out near convergence), beyond the round's median - a reversed change (sign flip, IPM) pulls
  back by several lengths, an honest one by about none (a small honest change is not counted twice, as
  ``norm`` and here);
* ``drift``: the angle between the participant's cumulative change (the sum of all its changes so far) and the
  others' (the same leave-one-out geometric median, of cumulative changes), beyond the round's median - a
  participant that keeps pulling against the federation (label flipping, an adaptive attacker) drifts away
  even when each round alone looks like unusual honest data.

Each excess counts only beyond ``DEAD_ZONE`` robust spreads (the variation an honest participant shows), the
round's evidence is the root sum of squares, and a participant's reputation is the exponentially weighted mean
of its earlier evidence, with ``history``'s weights and score scale (``detector.HISTORY_WEIGHT``, ``DECAY``,
``SCALE``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

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

FEATURES = ("norm", "angle", "projection", "distance", "similarity", "consistency", "drift")
"""The per-round excesses, in the order explanations list them."""
DEAD_ZONE = 0.25
"""Robust spreads of excess that an honest participant shows; each excess counts only beyond it."""
WEISZFELD_STEPS = 64
"""Weiszfeld steps of the geometric median (a fixed count: the replay runs exactly the same arithmetic)."""
COPY_GAP = 1e-9
"""Two changes whose distance is below this share of the larger norm are copies of one change."""
MIN_PROJECTION_SPREAD = 0.25
"""Smallest robust spread of projections (a quarter of the median change's length)."""


@dataclass(frozen=True)
class ConsensusHistory:
    """What the detector remembers of one participant: past direction, cumulative change and reputation."""

    rounds: int = 0
    direction: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    cumulative: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    reputation: float = 0.0


def distinct_groups(matrix: np.ndarray, sq: np.ndarray) -> np.ndarray:
    """Each row's group: rows closer than ``COPY_GAP`` times their norm are copies (the lowest index names it)."""
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix))
    groups = np.arange(len(matrix))
    for i in range(len(matrix)):
        for j in range(i):
            scale = max(norms[i], norms[j], TINY)
            if groups[j] == j and math.sqrt(max(float(sq[i, j]), 0.0)) <= COPY_GAP * scale:
                groups[i] = j
                break
    return groups


def _firsts(groups: np.ndarray) -> np.ndarray:
    """One row per group (a mask)."""
    return np.asarray(groups == np.arange(len(groups)))


def geometric_median(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The point with the least summed distance to the rows and each row's final Weiszfeld weight (Weiszfeld's
    iteration from the coordinate-wise median, ``WEISZFELD_STEPS`` steps; elementwise sums, no BLAS): each row
    pulls with unit force whatever its length, so a minority of long changes cannot drag it as they drag the
    coordinate-wise median."""
    centre = np.median(rows, axis=0)
    scale = max(float(np.median(np.sqrt(np.einsum("ij,ij->i", rows, rows)))), TINY)
    weights = np.ones(len(rows))
    for _ in range(WEISZFELD_STEPS):
        diff = rows - centre
        weights = 1.0 / np.maximum(np.sqrt(np.einsum("ij,ij->i", diff, diff)), 1e-9 * scale)
        centre = np.einsum("i,ij->j", weights, rows) / float(weights.sum())
    return np.asarray(centre), weights


def references(rows: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Each row's reference: the geometric median of the distinct rows without the row's own group (one
    Weiszfeld step from the full median's weights), so that no change is compared with a consensus it pulled
    towards itself - with near-orthogonal non-IID changes, its own pull is a large share of that consensus."""
    mask = _firsts(groups)
    distinct = rows[mask]
    centre, weights = geometric_median(distinct)
    if len(distinct) < 2:
        return np.tile(centre, (len(rows), 1))
    position = (np.cumsum(mask) - 1)[groups]
    total = np.einsum("i,ij->j", weights, distinct)
    own = weights[position]
    return np.asarray((total[None, :] - own[:, None] * distinct[position]) / (float(weights.sum()) - own)[:, None])


def _robust_excess(values: np.ndarray, mask: np.ndarray, floor: float, *, two_sided: bool = False) -> np.ndarray:
    """How far each value lies above the median of the distinct rows (``mask``), in robust spreads measured on
    the values at or below it (``two_sided``: also below it, in spreads measured on the values above)."""
    ref = values[mask]
    centre = float(np.median(ref))
    low = ref[ref <= centre]
    if two_sided:  # each side in units of the other side's spread: attackers on one side cannot widen it
        high = ref[ref >= centre]
        below = max(float(1.4826 * np.median(centre - low)), floor)
        above = max(float(1.4826 * np.median(high - centre)), floor)
        return np.asarray(np.where(values >= centre, (values - centre) / below, (centre - values) / above))
    spread = max(float(1.4826 * np.median(centre - low)), floor)
    return np.asarray(np.maximum(values - centre, 0.0) / spread)


def _neighbour_spread(sq: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Mean distance to the nearest half of the other rows that are not copies of the row."""
    n = len(groups)
    distances = np.sqrt(np.maximum(sq, 0.0))
    out = np.zeros(n)
    for i in range(n):
        others = np.sort(distances[i][groups != groups[i]])
        if others.size == 0:
            continue
        out[i] = float(others[: max(1, others.size // 2)].mean())
    return out


def _drift(cumulative: list[np.ndarray | None]) -> np.ndarray:
    """Angle of each known cumulative change to the others' (``references``), as an excess (0 when unknown)."""
    known = np.array([c is not None for c in cumulative])
    out = np.zeros(len(cumulative))
    if known.sum() < 3:
        return out
    rows = np.stack([c for c in cumulative if c is not None])
    groups = distinct_groups(rows, _sq_distances(rows))
    refs = references(rows, groups)
    angles = np.array([_angle(row, ref) for row, ref in zip(rows, refs, strict=True)])
    out[known] = _robust_excess(angles, _firsts(groups), MIN_ANGLE_SPREAD)
    return out


Context = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]
"""What a round's excesses are measured against: squared distances, copy groups, the rows that count for the
typical values (a mask), each row's reference and the median length (``round_context``)."""
Plan = tuple[tuple[str, ...], Callable[..., dict[str, np.ndarray]], Callable[[dict[str, float]], float]]
"""A later version's features: their names, the function that computes them and the one that combines them."""


def round_context(
    matrix: np.ndarray, core: np.ndarray | None = None, known: tuple[np.ndarray, np.ndarray] | None = None
) -> Context:
    """The round's distances, groups, typical rows, references and median length; with ``core`` (a mask), the
    typical values and references come from the core's rows only (``core_references``); ``known``: the squared
    distances and groups when already computed."""
    if known is None:
        sq = _sq_distances(matrix)
        groups = distinct_groups(matrix, sq)
    else:
        sq, groups = known
    mask = _firsts(groups)
    if core is None:
        refs = references(matrix, groups)
    else:
        mask = mask & core_groups(groups, core)
        refs = core_references(matrix, groups, mask)
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix))
    return sq, groups, mask, refs, float(np.median(norms[mask]))


def core_groups(groups: np.ndarray, core: np.ndarray) -> np.ndarray:
    """The rows (by group: a group's first row names it) of the groups with a member in ``core`` - a group of
    copies is in the core when any copy is, whichever copy its history put there."""
    marked = np.zeros(len(groups), dtype=bool)
    marked[groups[core]] = True
    return marked


def core_references(rows: np.ndarray, groups: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Each row's reference: the geometric median of the distinct rows in ``mask`` without the row's own group
    (as ``references``, from the rows of the mask only; a row outside it gets the whole median)."""
    distinct = rows[mask]
    centre, weights = geometric_median(distinct)
    if len(distinct) < 2:
        return np.tile(centre, (len(rows), 1))
    inside = mask[groups]
    position = np.where(inside, (np.cumsum(mask) - 1)[groups], 0)
    total = np.einsum("i,ij->j", weights, distinct)
    own = np.where(inside, weights[position], 0.0)
    pulls = own[:, None] * distinct[position]
    return np.asarray((total[None, :] - pulls) / (float(weights.sum()) - own)[:, None])


def round_features(
    matrix: np.ndarray,
    directions: list[np.ndarray | None],
    cumulative: list[np.ndarray | None],
    context: Context | None = None,
) -> dict[str, np.ndarray]:
    """The excesses of each row of ``matrix`` (participant order; ``directions`` and ``cumulative``: each one's
    past direction and cumulative change including this round, None without a past), measured against
    ``context`` (default: the whole round's, ``round_context(matrix)``)."""
    sq, groups, mask, refs, typical = context if context is not None else round_context(matrix)
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix))
    log_norms = np.log(np.maximum(norms, TINY * max(typical, 1.0)))
    angles = np.array([_angle(row, ref) for row, ref in zip(matrix, refs, strict=True)])
    lengths = np.maximum(np.sqrt(np.einsum("ij,ij->i", refs, refs)), TINY * max(typical, 1.0))
    projection = np.maximum(-np.einsum("ij,ij->i", matrix, refs) / lengths, 0.0) / max(typical, TINY)
    gaps = np.maximum(1.0 - _similarities(matrix), SIM_CAP)
    spread = _neighbour_spread(sq, groups)
    log_spread = np.log(np.maximum(spread, TINY * max(float(np.median(spread[mask])), 1.0)))
    turns = np.array([_angle(r, d) if d is not None else np.nan for r, d in zip(matrix, directions, strict=True)])
    known = ~np.isnan(turns)
    consistency = np.zeros(len(matrix))
    if known.sum() >= 3:
        consistency[known] = _excess(turns[known], MIN_ANGLE_SPREAD)
    return {
        "norm": _robust_excess(log_norms, mask, MIN_NORM_SPREAD, two_sided=True),
        "angle": _robust_excess(angles, mask, MIN_ANGLE_SPREAD),
        "projection": _robust_excess(projection, mask, MIN_PROJECTION_SPREAD),
        "distance": _robust_excess(log_spread, mask, MIN_NORM_SPREAD),
        "similarity": SIM_WEIGHT * np.maximum(np.log10(SIM_GATE / gaps), 0.0),
        "consistency": consistency,
        "drift": _drift(cumulative),
    }


def combine(row: dict[str, float]) -> float:
    """A round's evidence: the root sum of squares of the excesses beyond the dead zone."""
    return float(math.sqrt(sum(max(value - DEAD_ZONE, 0.0) ** 2 for value in row.values())))


def score(
    deltas: dict[str, np.ndarray],
    history: dict[str, ConsensusHistory],
    weights: tuple[float, float, float],
    plan: Plan | None = None,
) -> tuple[dict[str, float], dict[str, dict[str, float]], dict[str, ConsensusHistory]]:
    """Scores, features and the history after the round (see ``detector.score_round``); ``weights`` are
    ``history``'s reputation weight, decay and score scale, as the caller reads them; ``plan``: a later
    version's features (``alignment``), called as ``fn(matrix, directions, cumulative, past, weight)``."""
    names, compute, evidence_of = plan if plan is not None else (FEATURES, None, combine)
    weight, decay, scale = weights
    history = dict(history)
    order = sorted(deltas)
    if not order:
        return {}, {}, history
    matrix = np.stack([np.asarray(deltas[p], dtype=np.float64) for p in order])
    past = [_usable(history.get(p), matrix.shape[1]) for p in order]
    directions = [h.direction if h.rounds else None for h in past]
    cumulative = [h.cumulative + row if h.rounds else None for h, row in zip(past, matrix, strict=True)]
    if len(order) < 3:
        excesses = {k: np.zeros(len(order)) for k in names}
    elif compute is None:
        excesses = round_features(matrix, directions, cumulative)
    else:
        excesses = compute(matrix, directions, cumulative, past, weight)
    scores: dict[str, float] = {}
    features: dict[str, dict[str, float]] = {}
    for i, participant in enumerate(order):
        row = {name: float(excesses[name][i]) for name in names}
        current = evidence_of(row)
        before = past[i]
        evidence = current if not before.rounds else (1 - weight) * current + weight * before.reputation
        scores[participant] = float(evidence / (evidence + scale))
        features[participant] = {**row, "evidence": float(evidence), "reputation": float(before.reputation)}
        history[participant] = _remember(before, matrix[i], current, decay)
    return scores, features, history


def _usable(before: ConsensusHistory | None, size: int) -> ConsensusHistory:
    """The participant's history, or a fresh one when it has none of this model's size."""
    if before is None or not isinstance(before, ConsensusHistory) or before.direction.size != size:
        return ConsensusHistory()
    return before


def _remember(before: ConsensusHistory, delta: np.ndarray, evidence: float, decay: float) -> ConsensusHistory:
    """The participant's history after a round."""
    if not before.rounds:
        return ConsensusHistory(1, _unit(delta), delta.copy(), evidence)
    return ConsensusHistory(
        before.rounds + 1,
        _unit(decay * before.direction + (1 - decay) * _unit(delta)),
        before.cumulative + delta,
        decay * before.reputation + (1 - decay) * evidence,
    )
