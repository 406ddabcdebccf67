"""KernelSHAP valuation: exact at full budget, exact for additive games, efficient, deterministic, bounded."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerml.errors import ConfigError
from ledgerml.incentives.valuation import Coalition, exact_shapley, kernel_shapley, spearman


def game(n: int, seed: int) -> tuple[np.ndarray, object]:
    """A game with pairwise interactions and a size effect (not additive), and its players' own weights."""
    rng = np.random.default_rng(seed)
    own, pairs = rng.normal(size=n), np.triu(rng.normal(size=(n, n)) * 0.3, 1)

    def utility(coalition: Coalition) -> float:
        z = np.zeros(n)
        z[sorted(coalition)] = 1.0
        return float(own @ z + 0.5 * z @ pairs @ z + 0.5 * np.tanh(len(coalition) - 3))

    return own, utility


@pytest.mark.parametrize("n", [2, 3, 6, 9])
def test_every_coalition_gives_exact_shapley(n: int) -> None:
    _, utility = game(n, n)
    exact = exact_shapley(n, utility)  # type: ignore[arg-type]
    kernel = kernel_shapley(n, utility, max_evaluations=2**n)  # type: ignore[arg-type]
    assert kernel.evaluations == 2**n
    assert np.allclose(kernel.values, exact.values, atol=1e-10)


@settings(max_examples=30, deadline=None)
@given(st.integers(3, 14), st.integers(0, 2**31), st.integers(0, 100))
def test_additive_games_are_exact_at_any_budget(n: int, seed: int, extra: int) -> None:
    own = np.random.default_rng(seed).normal(size=n)
    budget = min(2**n, 2 * n + 2 + extra)
    kernel = kernel_shapley(n, lambda c: float(sum(own[i] for i in c)), max_evaluations=budget, seed=seed)
    assert kernel.evaluations <= budget
    assert np.allclose(kernel.values, own, atol=1e-9)


@pytest.mark.parametrize("n", [10, 30])
def test_values_sum_to_the_grand_coalitions_gain_and_repeat_to_the_bit(n: int) -> None:
    _, utility = game(n, 1)
    a = kernel_shapley(n, utility, max_evaluations=8 * n, seed=3)  # type: ignore[arg-type]
    b = kernel_shapley(n, utility, max_evaluations=8 * n, seed=3)  # type: ignore[arg-type]
    assert a.values == b.values and a.evaluations <= 8 * n
    gain = utility(frozenset(range(n))) - utility(frozenset())  # type: ignore[operator]
    assert abs(sum(a.values) - gain) < 1e-9


def test_a_fifth_of_exacts_evaluations_ranks_like_exact_on_every_seed() -> None:
    _, utility = game(10, 7)
    exact = exact_shapley(10, utility)  # type: ignore[arg-type]
    worst = min(
        spearman(kernel_shapley(10, utility, max_evaluations=204, seed=s).values, exact.values)  # type: ignore[arg-type]
        for s in range(1, 6)
    )
    assert worst >= 0.95


@pytest.mark.parametrize("budget", [0, 11, 12.5, None])
def test_too_small_or_non_integer_budgets_are_one_config_error(budget: object) -> None:
    with pytest.raises(ConfigError, match="max_evaluations"):
        kernel_shapley(5, lambda c: 0.0, max_evaluations=budget)  # type: ignore[arg-type]


def test_zero_and_one_player() -> None:
    assert kernel_shapley(0, lambda c: 1.0, max_evaluations=2).values == ()
    assert kernel_shapley(1, lambda c: 2.0 * len(c), max_evaluations=2).values == (2.0,)
    assert kernel_shapley(2, lambda c: 2.0 * len(c), max_evaluations=4).values == (2.0, 2.0)
