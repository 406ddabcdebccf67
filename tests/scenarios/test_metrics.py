"""The fields' measures against scikit-learn and by their properties."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import precision_recall_curve, roc_auc_score

from ledgerml.scenarios.baselines import median_of
from ledgerml.scenarios.metrics import accuracy, binary_measures, recall_at_precision, roc_auc

labels_and_scores = st.integers(2, 60).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 1), min_size=n, max_size=n),
        st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0]), min_size=n, max_size=n),
    )
)


@given(labels_and_scores)
def test_auc_matches_sklearn_with_ties(data: tuple[list[int], list[float]]) -> None:
    y, s = np.array(data[0]), np.array(data[1])
    if len(set(data[0])) < 2:
        assert math.isnan(roc_auc(y, s))
    else:
        assert math.isclose(roc_auc(y, s), roc_auc_score(y, s), abs_tol=1e-12)


@given(labels_and_scores, st.sampled_from([0.3, 0.5, 0.8, 0.95]))
def test_recall_at_precision_matches_the_best_threshold(data: tuple[list[int], list[float]], target: float) -> None:
    y, s = np.array(data[0]), np.array(data[1])
    if y.sum() == 0:
        return
    precision, recall, _ = precision_recall_curve(y, s)
    ok = (precision >= target) & (recall > 0)
    expected = float(recall[ok].max()) if ok.any() else 0.0
    assert math.isclose(recall_at_precision(y, s, target), expected, abs_tol=1e-12)


def test_perfect_and_reversed_scores() -> None:
    y = np.array([0, 0, 1, 1])
    assert roc_auc(y, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert roc_auc(y, np.array([0.9, 0.8, 0.2, 0.1])) == 0.0
    assert recall_at_precision(y, np.array([0.1, 0.2, 0.8, 0.9]), 0.99) == 1.0
    assert recall_at_precision(y, np.array([0.9, 0.8, 0.2, 0.1]), 0.99) == 0.0
    assert accuracy(y, np.array([0.1, 0.6, 0.8, 0.4])) == 0.5
    measures = binary_measures(y, np.array([0.1, 0.2, 0.8, 0.9]), 0.9)
    assert set(measures) == {"auc", "recall_at_precision_0.9", "accuracy"}


def test_median_of_organisations_skips_undefined_measures() -> None:
    rows = [{"auc": 0.6}, {"auc": float("nan")}, {"auc": 0.8}, {"auc": 0.7}]
    assert median_of(rows) == {"auc": 0.7}
    assert math.isnan(median_of([{"auc": float("nan")}])["auc"])


def test_precision_crossings_count_each_fall_below_the_target() -> None:
    from ledgerml.scenarios.metrics import precision_crossings

    scores = np.arange(6, 0, -1, dtype=float)  # ranked as given
    assert precision_crossings(np.array([1, 1, 0, 0, 0, 0]), scores, 0.5) == 1
    # precision 1, 1/2, 2/3, 2/4, 2/5: falls below 0.6 at the 2nd row and again at the 4th
    assert precision_crossings(np.array([1, 0, 1, 0, 0, 0]), scores, 0.6) == 2
    assert precision_crossings(np.array([1, 1, 1, 1, 1, 1]), scores, 0.6) == 0
    # a tie is one threshold: the top two rows (one late) pass 0.5 together
    assert precision_crossings(np.array([1, 0, 0]), np.array([1.0, 1.0, 0.0]), 0.5) == 1
