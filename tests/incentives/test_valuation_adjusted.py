"""Regression-adjusted KernelSHAP and its cubic surrogate: exactness, efficiency, symmetry, budget, bits."""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerml.errors import ConfigError
from ledgerml.incentives import surrogate
from ledgerml.incentives.valuation import (
    Coalition,
    _solve,
    adjustable,
    adjusted_kernel_shapley,
    exact_shapley,
    kernel_budget,
    kernel_shapley,
)


def pairwise_game(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=n), np.triu(rng.normal(size=(n, n)), 1)


def coverage_game(n: int, seed: int) -> tuple[object, np.ndarray]:
    """Weighted coverage (every order of interaction) with closed-form Shapley: each element's weight split
    equally among the players covering it."""
    rng = np.random.default_rng(seed)
    weights = rng.exponential(size=30)
    cover = rng.random((n, 30)) < rng.uniform(0.05, 0.4, size=(n, 1))
    cover[:, ~cover.any(axis=0)] = False

    def utility(coalition: Coalition) -> float:
        return float(weights[cover[sorted(coalition)].any(axis=0)].sum()) if coalition else 0.0

    counts = np.maximum(cover.sum(axis=0), 1)
    return utility, np.array([float(np.sum(weights[cover[i]] / counts[cover[i]])) for i in range(n)])


@settings(max_examples=15, deadline=None)
@given(st.integers(3, 9), st.integers(0, 2**31), st.integers(0, 60))
def test_additive_and_pairwise_games_are_exact_at_any_adjustable_budget(n: int, seed: int, extra: int) -> None:
    own, pairs = pairwise_game(n, seed)
    budget = min(2**n, n * (n + 1) + 2 + extra)  # classes 1, 2, n - 2, n - 1 whole
    assert adjustable(n, budget)

    def utility(c: Coalition) -> float:
        z = np.zeros(n)
        z[sorted(c)] = 1.0
        return float(own @ z + z @ pairs @ z)

    result = adjusted_kernel_shapley(n, utility, max_evaluations=budget, seed=seed)
    assert result.evaluations <= budget and result.method == "kernel_adjusted"
    assert np.allclose(result.values, exact_shapley(n, utility).values, atol=1e-8)


@settings(max_examples=15, deadline=None)
@given(st.integers(4, 11), st.integers(0, 2**31))
def test_values_sum_to_the_grand_coalitions_gain_and_the_budget_holds(n: int, seed: int) -> None:
    utility, _ = coverage_game(n, seed)
    budget = kernel_budget(n)
    result = adjusted_kernel_shapley(n, utility, max_evaluations=budget, seed=seed)  # type: ignore[arg-type]
    gain = utility(frozenset(range(n))) - utility(frozenset())  # type: ignore[operator]
    assert result.evaluations <= budget
    assert abs(sum(result.values) - gain) < 1e-8


@pytest.mark.parametrize("n", [3, 5, 8])
def test_every_coalition_gives_exact_shapley_and_symmetric_players_equal_values(n: int) -> None:
    weights = [1.0, 1.0, *range(2, n)]  # players 0 and 1 are symmetric

    def utility(c: Coalition) -> float:
        return float(sum(weights[i] for i in c) >= sum(weights) / 2)  # a weighted majority: every order

    result = adjusted_kernel_shapley(n, utility, max_evaluations=2**n)
    assert np.allclose(result.values, exact_shapley(n, utility).values, atol=1e-9)
    assert abs(result.values[0] - result.values[1]) < 1e-9


def test_on_coverage_games_it_beats_plain_kernelshap_at_the_same_budget() -> None:
    """Coverage games (not the benchmark's rounds): the control variate cuts KernelSHAP's error."""
    adjusted, plain = [], []
    for game in range(2):
        utility, exact = coverage_game(12, 1000 + game)
        for seed in range(3):
            for out, estimator in ((adjusted, adjusted_kernel_shapley), (plain, kernel_shapley)):
                values = estimator(12, utility, max_evaluations=kernel_budget(12), seed=seed).values  # type: ignore[arg-type]
                out.append(float(np.max(np.abs(np.subtract(values, exact)))))
    assert np.mean(adjusted) < 0.7 * np.mean(plain)


def test_repeats_to_the_bit_and_seeds_differ() -> None:
    utility, _ = coverage_game(10, 3)
    a = adjusted_kernel_shapley(10, utility, max_evaluations=204, seed=5)  # type: ignore[arg-type]
    b = adjusted_kernel_shapley(10, utility, max_evaluations=204, seed=5)  # type: ignore[arg-type]
    c = adjusted_kernel_shapley(10, utility, max_evaluations=204, seed=6)  # type: ignore[arg-type]
    assert a == b and a.values != c.values


def test_where_no_surrogate_fits_it_is_kernelshap() -> None:
    assert not adjustable(10, 100) and not surrogate.large_fits(300, 602)
    for n, budget in ((10, 100), (300, 602)):  # classes 2 and 8 not whole; a Gram beyond 2^53
        utility, _ = coverage_game(n, 1)
        adjusted = adjusted_kernel_shapley(n, utility, max_evaluations=budget, seed=2)  # type: ignore[arg-type]
        plain = kernel_shapley(n, utility, max_evaluations=budget, seed=2)  # type: ignore[arg-type]
        assert adjusted.values == plain.values and adjusted.method == "kernel_adjusted"


def test_large_games_beat_plain_kernelshap_stay_efficient_and_repeat_to_the_bit() -> None:
    """From 19 players (the Nyström-centred surrogate): coverage games at n = 30, 2 seeds."""
    utility, exact = coverage_game(30, 5)
    gain = utility(frozenset(range(30))) - utility(frozenset())  # type: ignore[operator]
    adjusted, plain = [], []
    for seed in range(2):
        result = adjusted_kernel_shapley(30, utility, max_evaluations=kernel_budget(30), seed=seed)  # type: ignore[arg-type]
        if seed == 0:
            again = adjusted_kernel_shapley(30, utility, max_evaluations=kernel_budget(30), seed=0)  # type: ignore[arg-type]
            assert result == again
        assert result.evaluations <= kernel_budget(30)
        assert abs(sum(result.values) - gain) < 1e-8
        adjusted.append(float(np.max(np.abs(np.subtract(result.values, exact)))))
        values = kernel_shapley(30, utility, max_evaluations=kernel_budget(30), seed=seed).values  # type: ignore[arg-type]
        plain.append(float(np.max(np.abs(np.subtract(values, exact)))))
    assert np.mean(adjusted) < 0.7 * np.mean(plain)


@settings(max_examples=8, deadline=None)
@given(st.integers(19, 40), st.integers(0, 2**31), st.integers(0, 40))
def test_large_additive_games_are_exact(n: int, seed: int, extra: int) -> None:
    own = np.random.default_rng(seed).normal(size=n)
    result = adjusted_kernel_shapley(n, lambda c: float(sum(own[i] for i in c)), max_evaluations=2 * n + 2 + extra)
    assert np.allclose(result.values, own, atol=1e-7)


@pytest.mark.parametrize("budget", [0, 11, 12.5, None, "204"])
def test_too_small_or_non_integer_budgets_are_one_config_error(budget: object) -> None:
    calls: list[Coalition] = []
    with pytest.raises(ConfigError, match="max_evaluations"):
        adjusted_kernel_shapley(5, lambda c: calls.append(c) or 0.0, max_evaluations=budget)  # type: ignore[arg-type]
    assert calls == []


def test_zero_one_and_two_players() -> None:
    assert adjusted_kernel_shapley(0, lambda c: 1.0, max_evaluations=2).values == ()
    assert adjusted_kernel_shapley(1, lambda c: 2.0 * len(c), max_evaluations=2).values == (2.0,)
    assert adjusted_kernel_shapley(2, lambda c: 2.0 * len(c), max_evaluations=4).values == (2.0, 2.0)


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 7), st.integers(0, 2**31))
def test_surrogate_shapley_is_the_exact_shapley_of_the_surrogate_game(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    coefficients = {t: float(rng.normal()) for t in surrogate.terms(n)}
    game = exact_shapley(n, lambda c: surrogate.evaluate(coefficients, c))
    assert np.allclose(surrogate.shapley(n, coefficients), game.values, atol=1e-9)
    assert surrogate.term_count(n) == len(surrogate.terms(n))


def test_an_unpenalized_fit_of_every_coalition_recovers_a_cubic_game() -> None:
    n = 6
    rng = np.random.default_rng(4)
    truth = {t: float(rng.normal()) for t in surrogate.terms(n)}
    every = [frozenset(c) for k in range(n + 1) for c in combinations(range(n), k)]
    fitted = surrogate.fit(n, [(c, surrogate.evaluate(truth, c)) for c in every], _solve, penalty=0.0)
    assert np.allclose([fitted[t] for t in truth], list(truth.values()), atol=1e-8)


def test_a_task_config_accepts_kernel_adjusted_and_rejects_a_misspelling_in_one_line() -> None:
    from ledgerml.federated.config import FederationConfig, check_federation

    check_federation(FederationConfig(task_id="t", participants=12, valuation={"method": "kernel_adjusted"}))
    with pytest.raises(ConfigError, match=r"valuation\.method") as caught:
        check_federation(FederationConfig(task_id="t", participants=12, valuation={"method": "kernel_adjustd"}))
    assert "\n" not in str(caught.value)


@pytest.mark.slow
def test_a_kernel_adjusted_task_pays_and_its_rewards_replay(tmp_path: Path) -> None:
    from ledgerml.federated.apps import run_in_process
    from ledgerml.federated.runner import load_plan
    from ledgerml.incentives import audit_rewards, load_validation, value_round
    from ledgerml.vocab.rewards import payouts
    from ledgerml.vocab.tasks import task

    from .test_incentives import rewarded

    home, _ = rewarded(tmp_path, participants=4, rounds=1, rule="fedavg", rule_params={}, slash_on=[],
                       valuation={"method": "kernel_adjusted"})  # fmt: skip
    run_in_process(home, "paid")
    with home.open_ledger() as ledger:
        state = ledger.state()
        record = task(state, "paid")
        assert record is not None
        validation = load_validation(load_plan(home, "paid").validation, record)
        spec = json.loads(home.store().get(record.model_spec))
        assert value_round(state, home.store(), record, 1, spec, validation).valuation.method == "kernel_adjusted"
        assert sum(dict(payouts(state, "paid").rewards[1].payments).values()) > 0
        assert audit_rewards(ledger, home.store(), "paid", validation) == []
