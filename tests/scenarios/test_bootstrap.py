"""The paired bootstrap: no difference between a model and itself, and an interval around a real one."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerml.scenarios.bootstrap import paired_bootstrap
from ledgerml.scenarios.metrics import roc_auc


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000))
def test_a_model_against_itself_differs_by_nothing(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y, scores = rng.integers(0, 2, 40), rng.random(40)
    assert paired_bootstrap(y, scores, scores, roc_auc, resamples=30, seed=seed) == (0.0, 0.0, 0.0)


def test_the_interval_holds_the_observed_difference_and_orders_its_ends() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    good, noisy = y + rng.normal(0, 0.5, 400), y + rng.normal(0, 2.0, 400)
    observed, low, high = paired_bootstrap(y, good, noisy, roc_auc, resamples=200)
    assert observed == roc_auc(y, good) - roc_auc(y, noisy) > 0
    assert 0 < low < observed < high
    flipped = paired_bootstrap(y, noisy, good, roc_auc, resamples=200)
    assert flipped == (-observed, -high, -low)


def test_undefined_resamples_are_left_out() -> None:
    y = np.array([1, 0])  # most resamples hold one class only: AUC undefined there
    observed, low, high = paired_bootstrap(y, np.array([0.9, 0.1]), np.array([0.1, 0.9]), roc_auc, resamples=50)
    assert (observed, low, high) == (1.0, 1.0, 1.0)
