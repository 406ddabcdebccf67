"""Simulated attacks for evaluating robustness (pure functions on weights and labels).

label_flip poisons the training data; sign_flip, scaling (model replacement) and gaussian_noise rewrite the
update; free_ride sends the global model back unchanged; sybil is several identities sending one identical
(sign-flipped) update. alie, ipm and adaptive are colluding attacks built from the attackers' own honest
updates (``COLLUDING``): in simulation the attackers see each other's honest updates. Used by tests, the demo,
benchmarks/robustness.py and benchmarks/attacks.py - never by honest participants.
"""

from __future__ import annotations

import math

import numpy as np

from ..ml.serialization import Weights

ATTACKS = (
    "none",
    "label_flip",
    "sign_flip",
    "scaling",
    "gaussian_noise",
    "free_ride",
    "sybil",
    "alie",
    "ipm",
    "adaptive",
)


def flip_labels(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Map every label ``c`` to ``n_classes - 1 - c``."""
    return (n_classes - 1 - y).astype(y.dtype)


def _apply(update: Weights, base: Weights, fn: object) -> Weights:
    return {name: fn(update[name], base[name]).astype(base[name].dtype) for name in base}  # type: ignore[operator]


def sign_flip(update: Weights, base: Weights, scale: float = 4.0) -> Weights:
    """Send ``base - scale * (update - base)``: the honest change, reversed and amplified."""
    return _apply(update, base, lambda u, b: b - scale * (u - b))


def scale_update(update: Weights, base: Weights, boost: float = 10.0) -> Weights:
    """Model replacement: ``base + boost * (update - base)`` (the update is usually from poisoned data)."""
    return _apply(update, base, lambda u, b: b + boost * (u - b))


def gaussian_noise(base: Weights, sigma: float, rng: np.random.Generator) -> Weights:
    """A random update: the base model plus N(0, sigma^2) noise, no training at all."""
    return {name: (b + rng.normal(0.0, sigma, size=b.shape)).astype(b.dtype) for name, b in base.items()}


def free_ride(base: Weights) -> Weights:
    """Return the global model unchanged while claiming to have trained."""
    return {name: b.copy() for name, b in base.items()}


# -- colluding attacks (attackers see each other's honest updates in simulation) --------------------------

COLLUDING = ("alie", "ipm", "adaptive")
"""Attacks whose participants pool their honest updates before sending (they collude, in simulation)."""
DEFAULT_IPM_EPSILON = 0.5
"""IPM's default epsilon: small enough to pass median and Krum (Xie et al. 2020 use 0.1 and 100)."""
DEFAULT_ADAPTIVE_SCALE = 1.0
"""The adaptive attacker's step along the poisoned direction, in units of the colluders' typical spread."""
NORM_MARGIN = 0.95
"""The adaptive attacker stays at this share of the task's ``max_update_norm``."""


def alie_z(n: int, f: int) -> float:
    """Baruch et al. 2019's ``z_max``: ``s = floor(n/2 + 1) - f`` honest updates must be "won over", so
    ``z = Phi^-1((n - s) / n)``; clamped to ``[0, 3]`` where the formula leaves that range."""
    from statistics import NormalDist

    s = math.floor(n / 2 + 1) - f
    p = (n - s) / n if n > 0 else 0.5
    if p <= 0.5:
        return 0.0
    return float(min(3.0, NormalDist().inv_cdf(min(p, 0.99865))))


def _stats(honest: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Coordinate-wise mean and (population) standard deviation of the colluders' honest deltas."""
    stacked = np.stack([np.asarray(h, dtype=np.float64) for h in honest])
    return stacked.mean(axis=0), stacked.std(axis=0)


def alie(honest: list[np.ndarray], z: float) -> np.ndarray:
    """ "A little is enough": ``mean - z * std`` of the colluders' honest deltas (every colluder sends it)."""
    mean, std = _stats(honest)
    return mean - z * std


def ipm(honest: list[np.ndarray], epsilon: float) -> np.ndarray:
    """Inner-product manipulation: ``-epsilon * mean`` of the colluders' honest deltas."""
    mean, _ = _stats(honest)
    return -epsilon * mean


def adaptive(own: np.ndarray, honest: list[np.ndarray], scale: float, norm_bound: float | None) -> np.ndarray:
    """The attacker's own honest delta pushed against the colluders' mean direction by ``scale`` times their
    typical distance to that mean (so it stays as close to the median as an honest update is), then shrunk to
    ``NORM_MARGIN * norm_bound`` if it would exceed the task's norm bound."""
    mean, _ = _stats(honest)
    length = float(np.linalg.norm(mean))
    direction = mean / length if length > 0 else np.zeros_like(mean)
    spread = float(np.median([np.linalg.norm(np.asarray(h, dtype=np.float64) - mean) for h in honest]))
    step = scale * max(spread, length)
    poisoned = np.asarray(own, dtype=np.float64) - step * direction
    norm = float(np.linalg.norm(poisoned))
    if norm_bound is not None and norm > NORM_MARGIN * norm_bound > 0:
        poisoned = poisoned * (NORM_MARGIN * norm_bound / norm)
    return poisoned
