"""The budget a task's ``kernel`` valuation uses: at most a fifth of exact's evaluations, never below the minimum."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledgerml.errors import ConfigError
from ledgerml.incentives.valuation import kernel_budget, kernel_shapley


@given(st.integers(0, 200))
def test_budget_is_a_fifth_of_exact_capped_at_twenty_n_and_at_least_the_minimum(n: int) -> None:
    budget = kernel_budget(n)
    least = min(2**n, 2 * n + 2)
    assert budget >= least
    assert budget <= max(least, 20 * n)
    assert budget == least or budget <= 2**n // 5


@pytest.mark.parametrize(("n", "expected"), [(0, 1), (1, 2), (2, 4), (5, 12), (8, 51), (10, 200), (50, 1000)])
def test_concrete_budgets(n: int, expected: int) -> None:
    assert kernel_budget(n) == expected


@pytest.mark.parametrize("n", range(0, 12))
def test_kernel_shapley_accepts_the_budget_and_stays_within_it(n: int) -> None:
    result = kernel_shapley(n, lambda c: float(sum(i + 1 for i in c)), max_evaluations=kernel_budget(n), seed=3)
    assert result.evaluations <= kernel_budget(n)
    assert result.values == pytest.approx([float(i + 1) for i in range(n)], abs=1e-9)  # additive: exact


def test_at_six_players_the_budget_is_the_minimum_and_one_less_is_a_config_error() -> None:
    assert kernel_budget(6) == 14
    with pytest.raises(ConfigError, match="max_evaluations"):
        kernel_shapley(6, lambda c: 0.0, max_evaluations=13)
