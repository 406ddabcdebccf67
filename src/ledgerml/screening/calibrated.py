"""Version 4 of the screening detector (``separation``): version 3's (``alignment``) evidence, calibrated by the
structure of the round's evidence (pure numpy, deterministic; participants in sorted order).

Version 3 ranks many attacks perfectly within a round while their evidence sits around the fixed flag level
(label flippers under label skew score 0.44-0.58 against 0.5): a fixed threshold is a calibration, and the
honest evidence's level varies with the data (IID honest evidence stays under 1, Dirichlet honest up to 4).
Version 4 keeps version 3's evidence and ranking and adds one decision from the round's own distribution: when
the top ``m`` participants (a minority of several, ``MIN_CLUSTER <= m <= (n - 1) // 2``) are separated from the
rest by a gap of at least ``MIN_SEPARATION`` robust spreads of both groups (1.4826 x MAD, at least
``MIN_EVIDENCE_SPREAD``), and the lowest of them has at least ``MIN_LIFTED_EVIDENCE``, their evidence is
scaled up so that the lowest of them reaches the flag level ``SCALE`` (score 0.5); of several such splits, the
best separated counts. A round without a separated cluster is scored exactly as version 3 scores it; the order
of the scores within a round never changes (the per-round AUROC is version 3's). The history (reputation,
directions, cumulative changes) is version 3's: the lift acts on the round's decision only, never on what
later rounds remember.
"""

from __future__ import annotations

import numpy as np

from . import alignment
from .consensus import ConsensusHistory

MIN_CLUSTER = 2
"""Smallest separated cluster: a lone participant above the rest is what the fixed threshold is for (an honest
participant with unique data looks exactly like that); several that stand out together are the signature of a
shared attack (colluders, one poisoning recipe)."""
MIN_SEPARATION = 4.0
"""Smallest gap, in robust spreads of the two groups' evidence, that separates an upper cluster."""
MIN_LIFTED_EVIDENCE = 2.0
"""Smallest evidence (half the flag level) a member of a separated cluster must have to be lifted."""
MIN_EVIDENCE_SPREAD = 0.25
"""Smallest robust spread of a group's evidence (the dead zone's width)."""
FEATURES_V4 = (*alignment.FEATURES_V3, "separation", "lift")
"""Version 4's features: version 3's, the separation of the participant's cluster (0 outside a separated one)
and the factor its evidence was scaled by (1 outside)."""


def _spread(values: np.ndarray) -> float:
    """1.4826 times the median absolute deviation (0 for fewer than two values)."""
    if values.size < 2:
        return 0.0
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def separated_cluster(evidence: np.ndarray) -> tuple[np.ndarray, float]:
    """The rows of the round's best-separated upper cluster (a mask; none: all False) and its separation (the
    gap below its lowest member in robust spreads; 0.0 when no split qualifies). Ties go by row order."""
    n = len(evidence)
    order = np.argsort(-evidence, kind="stable")
    ranked = evidence[order]
    best, size = 0.0, 0
    for m in range(MIN_CLUSTER, (n - 1) // 2 + 1):
        gap = float(ranked[m - 1] - ranked[m])
        unit = max(_spread(ranked[m:]), _spread(ranked[:m]), MIN_EVIDENCE_SPREAD)
        widest = float(np.max(ranked[: m - 1] - ranked[1:m]))  # the widest gap inside the cluster
        separation = gap / unit
        if ranked[m - 1] >= MIN_LIFTED_EVIDENCE and separation >= MIN_SEPARATION and gap > widest and separation > best:
            best, size = separation, m
    mask = np.zeros(n, dtype=bool)
    mask[order[:size]] = True
    return mask, best


def lifted(evidence: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's evidence after the lift, the factor it was scaled by, and its cluster's separation (0.0
    outside the separated cluster)."""
    mask, separation = separated_cluster(evidence)
    factors = np.ones(len(evidence))
    values = evidence.copy()
    if mask.any():
        factors[mask] = max(1.0, scale / float(evidence[mask].min()))
        values[mask] = np.maximum(evidence[mask] * factors[mask], scale)  # the lowest exactly at ``scale``
    return values, factors, np.where(mask, separation, 0.0)


def score(
    deltas: dict[str, np.ndarray], history: dict[str, ConsensusHistory], weights: tuple[float, float, float]
) -> tuple[dict[str, float], dict[str, dict[str, float]], dict[str, ConsensusHistory]]:
    """Version 4's scores, features and history after the round (version 3's, the round's decision lifted)."""
    scores, features, after = alignment.score(deltas, history, weights)
    scale = weights[2]
    order = sorted(scores)
    if not order:
        return scores, features, after
    evidence = np.array([features[p]["evidence"] for p in order])
    values, factors, separation = lifted(evidence, scale)
    for i, participant in enumerate(order):
        lift = float(factors[i])
        features[participant] = {**features[participant], "separation": float(separation[i]), "lift": lift}
        if lift != 1.0:
            scores[participant] = float(values[i] / (values[i] + scale))
    return scores, features, after
