"""Contribution valuation as plain functions over a utility ``v(coalition) -> float``.

``exact_shapley`` enumerates every coalition (2^n utility evaluations). ``monte_carlo_shapley`` samples
permutations with truncation and, like GTG-Shapley (Liu et al. 2022), guided sampling: permutation k starts
with player k mod n, so every player is measured first equally often, and a permutation stops scanning once
the prefix's utility is within ``truncation`` of the grand coalition's (the rest get marginal 0); if the whole
round gained less than ``truncation``, every value is 0 without sampling. ``leave_one_out`` needs n + 1
evaluations. All count distinct utility evaluations (results are cached per coalition).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations

import numpy as np

Coalition = frozenset[int]
Utility = Callable[[Coalition], float]


@dataclass(frozen=True)
class Valuation:
    """Values per player, the method, and how many distinct coalitions were evaluated."""

    values: tuple[float, ...]
    method: str
    evaluations: int


class CachedUtility:
    """Caches ``v(S)`` and counts distinct evaluations."""

    def __init__(self, utility: Utility) -> None:
        self.utility = utility
        self.cache: dict[Coalition, float] = {}

    def __call__(self, coalition: Coalition) -> float:
        if coalition not in self.cache:
            self.cache[coalition] = float(self.utility(coalition))
        return self.cache[coalition]

    @property
    def evaluations(self) -> int:
        """Distinct coalitions evaluated so far."""
        return len(self.cache)


def exact_shapley(n: int, utility: Utility) -> Valuation:
    """Shapley values by the definition: sum over coalitions S not containing i of
    |S|! (n-|S|-1)! / n! * (v(S + i) - v(S))."""
    v = CachedUtility(utility)
    values = [0.0] * n
    weights = [math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n) for k in range(n)]
    for i in range(n):
        others = [j for j in range(n) if j != i]
        for k in range(n):
            for subset in combinations(others, k):
                coalition = frozenset(subset)
                values[i] += weights[k] * (v(coalition | {i}) - v(coalition))
    return Valuation(tuple(values), "exact", v.evaluations)


def leave_one_out(n: int, utility: Utility) -> Valuation:
    """``v(N) - v(N without i)`` for each player."""
    v = CachedUtility(utility)
    everyone = frozenset(range(n))
    return Valuation(tuple(v(everyone) - v(everyone - {i}) for i in range(n)), "leave_one_out", v.evaluations)


def monte_carlo_shapley(
    n: int,
    utility: Utility,
    *,
    permutations: int,
    seed: int = 0,
    truncation: float = 0.0,
    guided: bool = True,
    max_evaluations: int | None = None,
) -> Valuation:
    """Permutation-sampling Shapley estimate with truncation and (by default) GTG-style guided sampling.

    ``max_evaluations`` caps the distinct utility evaluations: a permutation starts only if it cannot exceed
    the cap (the estimate averages the permutations completed)."""
    v = CachedUtility(utility)
    rng = np.random.default_rng(seed)
    everyone = frozenset(range(n))
    grand, empty = v(everyone), v(frozenset())
    if n == 0 or abs(grand - empty) < truncation:
        return Valuation(tuple(0.0 for _ in range(n)), "monte_carlo", v.evaluations)
    totals = np.zeros(n)
    done = 0
    for k in range(permutations):
        if max_evaluations is not None and v.evaluations + n > max_evaluations:
            break  # a permutation can add up to n new coalitions: never exceed the cap
        done += 1
        if guided:
            first = k % n
            rest = [j for j in rng.permutation(n).tolist() if j != first]
            order = [first, *rest]
        else:
            order = rng.permutation(n).tolist()
        prefix: Coalition = frozenset()
        previous = empty
        for player in order:
            if truncation and abs(grand - previous) < truncation:
                break  # the remaining players' marginals are taken as 0
            prefix = prefix | {player}
            current = v(prefix)
            totals[player] += current - previous
            previous = current
    return Valuation(tuple((totals / max(done, 1)).tolist()), "monte_carlo", v.evaluations)


def spearman(a: list[float] | tuple[float, ...], b: list[float] | tuple[float, ...]) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    from scipy.stats import spearmanr

    if len(a) < 2:
        return 1.0
    result = spearmanr(a, b).statistic
    return 1.0 if math.isnan(result) else float(result)
