"""Shamir secret sharing of 32-byte secrets over the prime field of p = 2**521 - 1 (a Mersenne prime)."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Sequence

PRIME = (1 << 521) - 1
SHARE_BYTES = 66
"""Bytes of one share value (big-endian, < PRIME)."""


def split(secret: bytes, xs: Sequence[int], threshold: int) -> dict[int, int]:
    """Shares of ``secret`` at the points ``xs`` (distinct, 1 <= x < PRIME): any ``threshold`` of them
    reconstruct it, fewer reveal nothing about it."""
    if not 1 <= threshold <= len(xs):
        raise ValueError(f"threshold must be from 1 to {len(xs)}, got {threshold}")
    if len(set(xs)) != len(xs) or any(not 0 < x < PRIME for x in xs):
        raise ValueError("share points must be distinct and in 1..PRIME-1")
    value = int.from_bytes(secret, "big")
    if value >= PRIME:
        raise ValueError("secret is too large for the field")
    coefficients = [value] + [secrets.randbelow(PRIME) for _ in range(threshold - 1)]
    return {x: _evaluate(coefficients, x) for x in xs}


def _evaluate(coefficients: list[int], x: int) -> int:
    result = 0
    for c in reversed(coefficients):
        result = (result * x + c) % PRIME
    return result


def reconstruct(shares: dict[int, int], length: int = 32) -> bytes:
    """The secret (``length`` bytes) from shares ``{x: y}`` by Lagrange interpolation at 0; with fewer than
    the threshold the result is a field element unrelated to the secret (``ValueError`` if it does not fit)."""
    if not shares:
        raise ValueError("no shares to reconstruct from")
    points = tuple(sorted(shares))
    total = sum(shares[x] * c for x, c in zip(points, lagrange_at_zero(points), strict=True)) % PRIME
    if total >= 1 << (8 * length):
        raise ValueError("the shares do not reconstruct a secret of this size")
    return total.to_bytes(length, "big")


@functools.lru_cache(maxsize=64)
def lagrange_at_zero(points: tuple[int, ...]) -> tuple[int, ...]:
    """The Lagrange coefficients at 0 for distinct ``points`` (the same for every secret shared on them)."""
    out = []
    for xi in points:
        numerator, denominator = 1, 1
        for xj in points:
            if xj != xi:
                numerator = numerator * (-xj) % PRIME
                denominator = denominator * (xi - xj) % PRIME
        out.append(numerator * pow(denominator, -1, PRIME) % PRIME)
    return tuple(out)


def encode(value: int) -> bytes:
    """A share value as ``SHARE_BYTES`` big-endian bytes."""
    return value.to_bytes(SHARE_BYTES, "big")


def decode(data: bytes) -> int:
    """A share value from its bytes; ``ValueError`` unless it is a field element."""
    value = int.from_bytes(data, "big")
    if len(data) != SHARE_BYTES or value >= PRIME:
        raise ValueError("not a share value")
    return value
