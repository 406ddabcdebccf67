"""Fixed point in Z/2**64: a clipped float vector times a weight becomes uint64 words whose sum over clients
(and its masks) wraps modulo 2**64; the bounds below make the true sum fit in int64, so it decodes exactly.

With ``n`` clients, weights at most ``W`` and every coordinate in ``[-clip, clip]`` (an L2 norm of at most
``clip`` bounds every coordinate), the summed numerators are at most ``n * W * clip * 2**frac_bits`` in
magnitude; ``frac_bits`` is the largest value (at most ``MAX_FRAC_BITS``) keeping that below ``2**62``.
Rounding to the nearest multiple of ``2**-frac_bits`` errs by at most ``2**-(frac_bits + 1)`` per
coordinate, and so does the weighted mean decoded from the sum.
"""

from __future__ import annotations

import math

import numpy as np

MAX_FRAC_BITS = 32
MIN_FRAC_BITS = 16
HEADROOM_BITS = 62
MAX_WEIGHT = 1 << 20
"""Largest weight (example count) one update carries; a larger count is capped at this."""


def frac_bits(clients: int, clip: float, max_weight: int = MAX_WEIGHT) -> int:
    """Fraction bits for ``clients`` clients, weights up to ``max_weight`` and coordinates in ``[-clip, clip]``;
    ``ValueError`` if fewer than ``MIN_FRAC_BITS`` fit."""
    if clients < 1 or max_weight < 1 or not clip > 0 or not math.isfinite(clip):
        raise ValueError("clients and max_weight must be >= 1 and clip a positive number")
    bits = math.floor(HEADROOM_BITS - math.log2(clients) - math.log2(max_weight) - math.log2(clip) - 1e-9)
    bits = min(MAX_FRAC_BITS, bits)
    if bits < MIN_FRAC_BITS:
        raise ValueError(f"{clients} clients with clip {clip:g} leave {bits} fraction bits (< {MIN_FRAC_BITS})")
    return bits


def clip_l2(delta: np.ndarray, clip: float) -> np.ndarray:
    """``delta`` scaled down to L2 norm at most ``clip`` (unchanged if already within)."""
    norm = float(np.sqrt(np.dot(delta, delta)))
    return delta if norm <= clip else delta * (clip / norm)


def encode(delta: np.ndarray, weight: int, clip: float, bits: int) -> np.ndarray:
    """``weight * round(delta * 2**bits)`` per coordinate, then ``weight`` itself, as uint64 words (two's
    complement); ``ValueError`` if a coordinate is outside ``[-clip, clip]`` or not finite."""
    values = np.asarray(delta, dtype=np.float64)
    if not np.all(np.isfinite(values)) or np.any(np.abs(values) > clip):
        raise ValueError(f"every coordinate must be finite and within [-{clip:g}, {clip:g}]")
    fixed = np.rint(values * float(1 << bits)).astype(np.int64) * np.int64(weight)
    return np.concatenate([fixed, np.array([weight], dtype=np.int64)]).view(np.uint64)


def decode_sum(total: np.ndarray, bits: int) -> tuple[np.ndarray, int]:
    """The weighted mean and the total weight from a sum of encoded vectors (modulo 2**64)."""
    signed = np.asarray(total, dtype=np.uint64).view(np.int64)
    weight = int(signed[-1])
    if weight <= 0:
        raise ValueError("the summed weight is not positive")
    return signed[:-1].astype(np.float64) / float(1 << bits) / weight, weight


def decode_one(encoded: np.ndarray, bits: int) -> tuple[np.ndarray, int]:
    """One client's clipped delta and weight from its encoded (unmasked) vector."""
    return decode_sum(encoded, bits)
