"""Contribution valuation as plain functions over a utility ``v(coalition) -> float``.

``exact_shapley`` enumerates every coalition (2^n utility evaluations). ``monte_carlo_shapley`` samples
permutations with truncation and, like GTG-Shapley (Liu et al. 2022), guided sampling: permutation k starts
with player k mod n, so every player is measured first equally often, and a permutation stops scanning once
the prefix's utility is within ``truncation`` of the grand coalition's (the rest get marginal 0); if the whole
round gained less than ``truncation``, every value is 0 without sampling. ``leave_one_out`` needs n + 1
evaluations. ``kernel_shapley`` fits the values by KernelSHAP's weighted regression over a budget of coalitions
(the estimator measured best beyond exact's range, docs/benchmarks.md; ``kernel_budget`` is the budget a
task's ``kernel`` valuation uses); ``adjusted_kernel_shapley`` subtracts KernelSHAP's error on a fitted cubic
surrogate game (``incentives.surrogate``), the better estimator at the same budget (docs/incentives.md). All
count distinct utility evaluations (results are cached per coalition).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from ..errors import ConfigError

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


def _kernel_weight(n: int, size: int) -> float:
    """The Shapley kernel's weight of one coalition of ``size`` players (Lundberg and Lee 2017)."""
    return (n - 1) / (math.comb(n, size) * size * (n - size))


def _size_classes(n: int) -> list[tuple[int, ...]]:
    """Coalition sizes paired with their complements' (1 with n-1, 2 with n-2, ...), heaviest kernel mass first."""
    return [(s,) if s == n - s else (s, n - s) for s in range(1, n // 2 + 1)]


def _plan_coalitions(n: int, budget: int, rng: np.random.Generator) -> dict[Coalition, float]:
    """Coalitions (not empty or full) with their regression weights: whole size classes while the budget lasts,
    then paired random coalitions (a set and its complement) from the remaining classes, drawn by kernel mass,
    sharing that mass equally."""
    plan: dict[Coalition, float] = {}
    classes = _size_classes(n)
    left = budget
    while classes and sum(math.comb(n, s) for s in classes[0]) <= left:
        sizes = classes.pop(0)
        for size in sizes:
            for members in combinations(range(n), size):
                plan[frozenset(members)] = _kernel_weight(n, size)
        left -= sum(math.comb(n, s) for s in sizes)
    if not classes or left < 2:
        return plan
    masses = np.array([sum(_kernel_weight(n, s) * math.comb(n, s) for s in sizes) for sizes in classes])
    drawn: dict[Coalition, int] = {}
    for _ in range(50 * left):
        if len(drawn) + 2 > left:
            break
        sizes = classes[int(rng.choice(len(classes), p=masses / masses.sum()))]
        chosen: Coalition = frozenset(rng.choice(n, size=sizes[0], replace=False).tolist())
        for coalition in (chosen, frozenset(range(n)) - chosen):
            drawn[coalition] = drawn.get(coalition, 0) + 1
    total = sum(drawn.values())
    plan.update({c: float(masses.sum()) * count / total for c, count in drawn.items()})
    return plan


def _solve(matrix: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Gaussian elimination with partial pivoting by elementwise row operations (no LAPACK, whose blocking
    differs between machines: these bits are the same anywhere)."""
    size = len(rhs)
    a = np.hstack([matrix, rhs[:, None]]).astype(np.float64)
    for col in range(size):
        pivot = col + int(np.argmax(np.abs(a[col:, col])))
        a[[col, pivot]] = a[[pivot, col]]
        if a[col, col] == 0.0:
            raise ConfigError("kernel Shapley: the sampled coalitions do not determine the values")
        factors = a[col + 1 :, col] / a[col, col]
        a[col + 1 :] -= factors[:, None] * a[col]
    out = np.zeros(size)
    for r in range(size - 1, -1, -1):
        tail = 0.0
        for c in range(r + 1, size):
            tail += float(a[r, c]) * float(out[c])
        out[r] = (a[r, size] - tail) / a[r, r]
    return out


def kernel_budget(n: int) -> int:
    """Distinct utility evaluations a ``kernel`` valuation of ``n`` players uses: a fifth of exact Shapley's
    2^n, at most 20 n, and never below KernelSHAP's minimum (empty, full, every single and every n - 1)."""
    least = min(2**n, 2 * n + 2)
    return int(max(least, min(2**n // 5, 20 * n)))


def _check_budget(n: int, max_evaluations: object) -> None:
    """One ConfigError unless the budget is an int covering empty, full, every single and every n - 1."""
    least = min(2**n, 2 * n + 2) if n >= 0 else 0
    if n < 0 or type(max_evaluations) is not int or max_evaluations < least:
        raise ConfigError(
            f"kernel Shapley of {n} players needs max_evaluations >= {least} (every single player and every"
            f" coalition of all but one), got {max_evaluations!r}"
        )


def _kernel_fit(
    n: int, plan: dict[Coalition, float], target: dict[Coalition, float], empty: float, grand: float
) -> list[float]:
    """KernelSHAP's constrained weighted least squares of ``target(S) - empty`` over the planned coalitions."""
    matrix, rhs = np.zeros((n + 1, n + 1)), np.zeros(n + 1)
    member = np.zeros(n + 1)
    for coalition in sorted(plan, key=sorted):  # a fixed order of the sums
        member[:] = 0.0
        member[sorted(coalition)] = 1.0
        weight = plan[coalition]
        matrix += np.multiply.outer(member * weight, member)
        rhs += member * (weight * (target[coalition] - empty))
    matrix[:n, n] = matrix[n, :n] = 1.0  # the efficiency constraint, by a Lagrange multiplier
    rhs[n] = grand - empty
    return [float(x) for x in _solve(matrix, rhs)[:n]]


def kernel_shapley(n: int, utility: Utility, *, max_evaluations: int, seed: int = 0) -> Valuation:
    """Shapley values by KernelSHAP (Lundberg and Lee 2017): the weighted least-squares fit of ``v(S) - v({})``
    by the sum of the members' values over at most ``max_evaluations`` distinct coalitions (empty and full
    included, and at least every coalition of one and of ``n - 1`` players), subject to the values summing to
    ``v(N) - v({})``. The coalitions are the Shapley kernel's
    heaviest size classes whole, then paired random draws (``seed``); with the budget of every coalition it is
    exact Shapley, and it is exact for additive games at any budget. Deterministic to the bit for a seed."""
    _check_budget(n, max_evaluations)
    v = CachedUtility(utility)
    if n == 0:
        return Valuation((), "kernel", 0)
    empty, grand = v(frozenset()), v(frozenset(range(n)))
    if n == 1:
        return Valuation((grand - empty,), "kernel", v.evaluations)
    plan = _plan_coalitions(n, max_evaluations - 2, np.random.default_rng(seed))
    values = _kernel_fit(n, plan, {c: v(c) for c in sorted(plan, key=sorted)}, empty, grand)
    return Valuation(tuple(values), "kernel", v.evaluations)


def adjustable(n: int, max_evaluations: int) -> bool:
    """Whether ``kernel_adjusted`` fits its cubic surrogate at this size and budget: every coalition of one,
    two, n - 2 and n - 1 players is in the plan (the pairwise terms are determined) and the surrogate has at
    most ``surrogate.MAX_TERMS`` terms; otherwise, below ``LARGE_FROM`` players, it is plain KernelSHAP."""
    from . import surrogate

    classes = sum(math.comb(n, s) for s in {1, 2, n - 2, n - 1} if 0 < s < n)
    return n >= 3 and max_evaluations - 2 >= classes and surrogate.term_count(n) <= surrogate.MAX_TERMS


def adjusted_kernel_shapley(n: int, utility: Utility, *, max_evaluations: int, seed: int = 0) -> Valuation:
    """Regression-adjusted KernelSHAP: ``kernel(v) - kernel(h) + shapley(h)`` on the same coalitions, where
    ``h`` is a cubic Möbius surrogate fitted to them (``incentives.surrogate``) and ``shapley(h)`` is its exact
    value; the surrogate is a control variate that removes the part of KernelSHAP's sampling error it explains.
    Exact at full budget and for games of at most pairwise interactions (then ``h = v``), efficient, no
    evaluations beyond KernelSHAP's, deterministic to the bit for a seed. From ``LARGE_FROM`` players the
    surrogate is ``surrogate.fit_large`` (exact for additive games); plain KernelSHAP where neither fits
    (``adjustable``, ``surrogate.large_fits``)."""
    from . import surrogate

    _check_budget(n, max_evaluations)
    if n >= LARGE_FROM and surrogate.large_fits(n, max_evaluations):
        return _adjusted(n, utility, max_evaluations, seed, lambda pairs: surrogate.fit_large(n, pairs, _solve))
    if not adjustable(n, max_evaluations):
        plain = kernel_shapley(n, utility, max_evaluations=max_evaluations, seed=seed)
        return Valuation(plain.values, "kernel_adjusted", plain.evaluations)

    def cubic(pairs: list[tuple[Coalition, float]]) -> tuple[list[float], tuple[float, ...]]:
        coefficients = surrogate.fit(n, pairs, _solve)
        return [surrogate.evaluate(coefficients, c) for c, _ in pairs], tuple(surrogate.shapley(n, coefficients))

    return _adjusted(n, utility, max_evaluations, seed, cubic)


LARGE_FROM = 19
"""From this many players ``kernel_adjusted`` uses the Nyström-centred surrogate (the cubic expansion's terms
outnumber ``kernel_budget(n)``'s evaluations, and classes 2 and n - 2 no longer fit whole)."""


def _adjusted(
    n: int,
    utility: Utility,
    max_evaluations: int,
    seed: int,
    fit: Callable[[list[tuple[Coalition, float]]], tuple[Sequence[float], Sequence[float]]],
) -> Valuation:
    """``kernel(v) - kernel(h) + shapley(h)`` on KernelSHAP's coalitions, where ``fit`` fits the surrogate ``h`` to
    the (coalition, value) pairs (empty first, grand last) and returns ``h`` at each of them and ``shapley(h)``."""
    v = CachedUtility(utility)
    everyone: Coalition = frozenset(range(n))
    empty, grand = v(frozenset()), v(everyone)
    plan = _plan_coalitions(n, max_evaluations - 2, np.random.default_rng(seed))
    observed = {c: v(c) for c in sorted(plan, key=sorted)}
    direct = _kernel_fit(n, plan, observed, empty, grand)
    fitted, closed = fit([(frozenset(), empty), *observed.items(), (everyone, grand)])
    at = dict(zip(observed, fitted[1:-1], strict=True))
    sampled = _kernel_fit(n, plan, at, fitted[0], fitted[-1])
    values = tuple(d - s + c for d, s, c in zip(direct, sampled, closed, strict=True))
    return Valuation(values, "kernel_adjusted", v.evaluations)
