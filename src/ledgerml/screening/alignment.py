"""Version 3 of the screening detector (``alignment``): version 2 (``consensus``) and two features that are
scale-aware where version 2's are not under non-IID data (pure numpy, deterministic; elementwise sums).

* ``reversal``: how far a change pulls back along its reference, in units of the round's typical alignment
  (the median ``|component along the reference|`` of the distinct changes) - non-IID honest changes align with
  the consensus by a small share of their length only, so version 2's ``projection`` (in units of the median
  length) undercounts a reversed change; one reversed and amplified ``k`` times pulls back by about ``k``
  typical alignments, an honest one by about none;
* ``agreement``: the mean cosine of the participant's cumulative change (all its changes so far, this round's
  included) to every other distinct participant's, as an excess **below** the round's median - a participant
  that keeps working against the others (label flipping, an adaptive attacker) agrees with them less and less,
  while an honest participant with unusual data is merely orthogonal to most. Each other participant counts
  once whatever its length (unlike a consensus, which long or many changes can pull); copies count once and
  never for each other (``similarity`` sees them).
"""

from __future__ import annotations

import math

import numpy as np

from . import consensus
from ._vectors import TINY, _sq_distances, _unit
from .consensus import DEAD_ZONE, ConsensusHistory, _firsts, distinct_groups

FEATURES_V3 = ("norm", "angle", "projection", "distance", "similarity", "consistency", "drift", "reversal", "agreement")
"""Version 3's excesses, in the order explanations list them (version 2's, then its own two)."""
MIN_ALIGNMENT_SHARE = 0.1
"""Smallest typical alignment (the unit of ``reversal``), as a share of the median change's length."""
MIN_AGREEMENT_SPREAD = 0.1
"""Smallest robust spread of mean cosines (``agreement``)."""
GROUPS = (
    ("norm", "distance"),
    ("angle", "projection", "reversal"),
    ("similarity",),
    ("consistency", "drift", "agreement"),
)
"""Features that measure one thing (length; direction against the consensus; copying; the participant's
history): the evidence counts each group's largest excess once."""


def score(
    deltas: dict[str, np.ndarray], history: dict[str, ConsensusHistory], weights: tuple[float, float, float]
) -> tuple[dict[str, float], dict[str, dict[str, float]], dict[str, ConsensusHistory]]:
    """Version 3's scores, features and history after the round (``consensus.score`` with this plan)."""
    return consensus.score(deltas, history, weights, (FEATURES_V3, concentrated, combine_groups))


def concentrated(
    matrix: np.ndarray,
    directions: list[np.ndarray | None],
    cumulative: list[np.ndarray | None],
    past: list[ConsensusHistory],
    weight: float,
) -> dict[str, np.ndarray]:
    """Version 3's excesses of each row, in two passes: the first measures every row against the whole round
    (as version 2 does); the second against the **core** only - the majority (``n // 2 + 1``) of rows whose
    first-pass evidence, with their reputation (``weight``, as the score mixes it), is lowest. Many attackers
    mask each other in the first pass (they drag the reference and widen every spread); measured against the
    core they no longer do (a concentration step, as in robust covariance estimation). Ties go by row order."""
    totals = np.stack([h.cumulative + row if h.rounds else row for h, row in zip(past, matrix, strict=True)])
    sq = _sq_distances(matrix)
    known = (sq, distinct_groups(matrix, sq), distinct_groups(totals, _sq_distances(totals)))
    first = features(matrix, directions, cumulative, totals, None, known)
    evidence = []
    for i, before in enumerate(past):
        current = combine_groups({k: float(v[i]) for k, v in first.items()})
        evidence.append((1 - weight) * current + weight * before.reputation if before.rounds else current)
    order = sorted(range(len(matrix)), key=lambda i: (evidence[i], i))
    core = np.zeros(len(matrix), dtype=bool)
    core[order[: len(matrix) // 2 + 1]] = True
    return features(matrix, directions, cumulative, totals, core, known)


def features(
    matrix: np.ndarray,
    directions: list[np.ndarray | None],
    cumulative: list[np.ndarray | None],
    totals: np.ndarray,
    core: np.ndarray | None,
    known: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Version 2's excesses and version 3's own, measured against the ``core`` rows (all rows: None);
    ``totals``: every row's cumulative change including this round (a first round's too); ``known``: the
    round's squared distances, its groups and the groups of ``totals``, when already computed."""
    context = consensus.round_context(matrix, core, known[:2] if known is not None else None)
    out = consensus.round_features(matrix, directions, cumulative, context)
    _, _, mask, refs, typical = context
    out["reversal"] = reversal(matrix, refs, mask, typical)
    out["agreement"] = agreement(totals, core, known[2] if known is not None else None)
    return out


def reversal(matrix: np.ndarray, refs: np.ndarray, mask: np.ndarray, typical: float) -> np.ndarray:
    """How far each change pulls back along its reference, in units of the round's typical alignment (at
    least ``MIN_ALIGNMENT_SHARE`` of the median length ``typical``); 0 for a change that does not pull back."""
    lengths = np.maximum(np.sqrt(np.einsum("ij,ij->i", refs, refs)), TINY * max(typical, 1.0))
    along = np.einsum("ij,ij->i", matrix, refs) / lengths
    unit = max(float(np.median(np.abs(along[mask]))), MIN_ALIGNMENT_SHARE * typical, TINY)
    return np.asarray(np.maximum(-along, 0.0) / unit)


def mean_cosines(
    totals: np.ndarray, core: np.ndarray | None = None, groups: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's mean cosine to the distinct rows (of the ``core`` when given) outside its own group of
    copies (``groups``: ``distinct_groups`` of ``totals``, when already computed), and those distinct rows (a
    mask); a row with no other group scores 0."""
    if groups is None:
        groups = distinct_groups(totals, _sq_distances(totals))
    firsts = _firsts(groups) if core is None else _firsts(groups) & consensus.core_groups(groups, core)
    units = np.stack([_unit(row) for row in totals])
    out = np.zeros(len(totals))
    for i in range(len(totals)):
        others = firsts & (groups != groups[i])
        if others.any():
            out[i] = float(np.einsum("ij,j->i", units[others], units[i]).mean())
    return out, firsts


def agreement(totals: np.ndarray, core: np.ndarray | None = None, groups: np.ndarray | None = None) -> np.ndarray:
    """How far each row's mean cosine to the others lies **below** the median of the distinct rows, in robust
    spreads measured on the values at or above it (so that up to half lying low cannot widen it)."""
    values, firsts = mean_cosines(totals, core, groups)
    ref = values[firsts]
    centre = float(np.median(ref))
    high = ref[ref >= centre]
    spread = max(float(1.4826 * np.median(high - centre)), MIN_AGREEMENT_SPREAD)
    return np.asarray(np.maximum(centre - values, 0.0) / spread)


def combine_groups(row: dict[str, float]) -> float:
    """A round's evidence: the root sum of squares, over ``GROUPS``, of each group's largest excess beyond the
    dead zone - features that measure one thing count once (an honest participant with unusual data is
    moderately high on several of them at a time)."""

    return float(math.sqrt(sum(max(max(row[k] for k in group) - DEAD_ZONE, 0.0) ** 2 for group in GROUPS)))
