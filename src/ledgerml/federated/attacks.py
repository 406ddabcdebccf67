"""Simulated attacks for evaluating robustness (pure functions on weights and labels).

label_flip poisons the training data; sign_flip, scaling (model replacement) and gaussian_noise rewrite the
update; free_ride sends the global model back unchanged; sybil is several identities sending one identical
(sign-flipped) update. Used by tests, the demo and benchmarks/robustness.py - never by honest participants.
"""

from __future__ import annotations

import numpy as np

from ..ml.serialization import Weights

ATTACKS = ("none", "label_flip", "sign_flip", "scaling", "gaussian_noise", "free_ride", "sybil")


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
