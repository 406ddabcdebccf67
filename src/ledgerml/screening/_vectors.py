"""Vector helpers the screening detectors share (pure numpy; elementwise where bits must reproduce)."""

from __future__ import annotations

import math

import numpy as np

TINY = 1e-12


# The gates both detector versions use (one home: ``history`` v1 and ``consensus`` v2 share them).
MIN_NORM_SPREAD = 0.4
"""Smallest robust spread of log norms (a factor of about 1.5)."""
MIN_ANGLE_SPREAD = 0.15
"""Smallest robust spread of angles, in radians (about 9 degrees)."""
SIM_CAP = 1e-6
"""``1 - cosine`` below this counts as identical (caps the similarity excess)."""
SIM_GATE = 1e-2
"""A cosine to another participant's change above ``1 - SIM_GATE`` (0.99) starts to count as copying."""
SIM_WEIGHT = 4.0
"""Similarity excess per decade of ``1 - cosine`` below ``SIM_GATE`` (identical changes: 16)."""


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
