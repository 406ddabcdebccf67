"""A cubic surrogate game for regression-adjusted Shapley estimation: plain functions, no framework imports.

The surrogate is a truncated Möbius (unanimity) expansion ``h(S) = sum over T subset of S, |T| <= 3, of b_T``,
fitted by least squares to the evaluated coalitions with a ridge penalty on the third-order terms only (the
constant, single and pairwise terms are free, so games of at most pairwise interactions are fitted exactly).
Its Shapley values are closed-form: each ``b_T`` is shared equally by the members of ``T``. Every sum runs in
a fixed order and the solve is elementwise, so the bits are the same on any machine.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import combinations

import numpy as np

Term = tuple[int, ...]
PENALTY = 1.0
"""Ridge penalty on each third-order coefficient (the utility's units squared per unit of squared residual;
chosen on recorded rounds other than the benchmark's, docs/incentives.md)."""
MAX_TERMS = 1_000
"""Largest surrogate (number of Möbius terms) fitted; 18 players have 988."""


def terms(n: int) -> list[Term]:
    """The Möbius terms of order 0 to 3 over ``n`` players, in a fixed order."""
    return [t for order in range(4) for t in combinations(range(n), order)]


def term_count(n: int) -> int:
    """How many terms ``terms(n)`` has."""
    return sum(math.comb(n, order) for order in range(4))


def features(coalition: frozenset[int], basis: list[Term]) -> np.ndarray:
    """1.0 for each term contained in the coalition."""
    return np.array([1.0 if coalition.issuperset(t) else 0.0 for t in basis])


def fit(
    n: int,
    observed: list[tuple[frozenset[int], float]],
    solve: Callable[[np.ndarray, np.ndarray], np.ndarray],
    penalty: float = PENALTY,
) -> dict[Term, float]:
    """Ridge-penalized least squares of the observed ``(coalition, value)`` pairs (in their given order) by
    the cubic expansion; ``solve`` is a deterministic linear solver."""
    basis = terms(n)
    rows = np.array([features(coalition, basis) for coalition, _ in observed])
    gram = rows.T @ rows  # 0/1 entries: every partial sum is an integer, exact in any summation order
    rhs = np.zeros(len(basis))
    for row, (_, value) in zip(rows, observed, strict=True):
        rhs += row * value
    for k, t in enumerate(basis):
        if len(t) == 3:
            gram[k, k] += penalty
    return dict(zip(basis, (float(b) for b in solve(gram, rhs)), strict=True))


def evaluate(coefficients: dict[Term, float], coalition: frozenset[int]) -> float:
    """``h(S)``: the sum of the coefficients of the terms inside ``S`` (in the terms' order)."""
    total = 0.0
    for t, b in coefficients.items():
        if coalition.issuperset(t):
            total += b
    return total


def shapley(n: int, coefficients: dict[Term, float]) -> list[float]:
    """The surrogate's exact Shapley values: each term's coefficient split equally among its members."""
    values = [0.0] * n
    for t, b in coefficients.items():
        for player in t:
            values[player] += b / len(t)
    return values


CENTERS = 400
"""Most coalitions the large-game surrogate is centred on (every k-th evaluated one)."""
PAIR_WEIGHT = 100
"""Prior weight of each pairwise term in the large-game surrogate (a penalty of PENALTY / 100: nearly free)."""


def _order_kernel(shared: np.ndarray) -> np.ndarray:
    """``PAIR_WEIGHT * C(c, 2) + C(c, 3)`` for shared-member counts ``c``: the pairwise (weighted) and
    third-order Möbius terms two coalitions have in common; integer-valued floats."""
    return np.asarray(PAIR_WEIGHT * shared * (shared - 1) / 2 + shared * (shared - 1) * (shared - 2) / 6, float)


def _ordered_dot(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """``matrix @ vector`` summed column by column in a fixed order (the same bits on any machine)."""
    out = np.zeros(matrix.shape[0])
    for k in range(matrix.shape[1]):
        out += matrix[:, k] * vector[k]
    return out


def fit_large(
    n: int, observed: list[tuple[frozenset[int], float]], solve: Callable[[np.ndarray, np.ndarray], np.ndarray]
) -> tuple[list[float], list[float]]:
    """The large-game surrogate (kernel ridge with the cubic expansion's kernel, Nyström-centred on at most
    ``CENTERS`` of the coalitions; single terms free, pairwise and third-order terms penalized by ``PENALTY``
    over their prior weights): its values at the observed coalitions and its exact Shapley values."""
    members = np.array([[1.0 if i in c else 0.0 for i in range(n)] for c, _ in observed])  # integer-valued
    y = np.array([value for _, value in observed])
    centres = members[:: max(1, len(observed) // CENTERS)][:CENTERS]
    design = np.hstack([_order_kernel(members @ centres.T), np.ones((len(y), 1)), members])
    matrix = design.T @ design  # integers below 2^53 (``large_fits``): exact in any summation order
    matrix[: len(centres), : len(centres)] += PENALTY * _order_kernel(centres @ centres.T)
    jitter = 1e-9 * float(np.trace(matrix)) / len(matrix)  # keeps the centres' block definite
    for k in range(len(centres)):
        matrix[k, k] += jitter
    rhs = np.zeros(design.shape[1])
    for row, value in zip(design, y, strict=True):
        rhs += row * value
    solution = solve(matrix, rhs)
    fitted = _ordered_dot(design, solution)
    alpha, single = solution[: len(centres)], solution[len(centres) + 1 :]
    sizes = centres.sum(axis=1)
    share = alpha * (PAIR_WEIGHT * (sizes - 1) / 2 + (sizes - 1) * (sizes - 2) / 6)
    closed = single + _ordered_dot(centres.T, share)
    return [float(x) for x in fitted], [float(x) for x in closed]


def large_fits(n: int, evaluations: int) -> bool:
    """Whether ``fit_large``'s integer Gram stays exact in float64 (below 2^53) for ``n`` players."""
    top = int(_order_kernel(np.array([float(n)]))[0])
    return (top * top + PENALTY * top) * evaluations < 2**53
