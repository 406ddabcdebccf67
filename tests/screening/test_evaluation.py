"""The screening benchmark's measures: per-round AUROC, Student-t quantiles, paired intervals over seeds and the
accuracy rule (``ledgerml.screening.evaluation``)."""

from __future__ import annotations

import math

import pytest

from ledgerml.screening.evaluation import (
    ACCURACY_MARGIN,
    accuracy_met,
    auroc,
    mean,
    paired_difference,
    t_cdf,
    t_quantile,
)


def test_auroc_counts_pairs_and_half_ties() -> None:
    assert auroc([0.9, 0.8, 0.1, 0.2], [True, True, False, False]) == 1.0
    assert auroc([0.1, 0.2, 0.9, 0.8], [True, True, False, False]) == 0.0
    # one positive 0.5 against negatives 0.5 (tie) and 0.1 (win): (0.5 + 1) / 2
    assert auroc([0.5, 0.5, 0.1], [True, False, False]) == 0.75


def test_auroc_without_both_classes_is_none_and_lengths_must_match() -> None:
    assert auroc([0.3, 0.4], [False, False]) is None
    assert auroc([0.3], [True]) is None
    with pytest.raises(ValueError, match="2 scores for 1 labels"):
        auroc([0.3, 0.4], [True])


@pytest.mark.parametrize(
    ("df", "expected"),
    [(1, 12.706205), (2, 4.302653), (3, 3.182446), (4, 2.776445), (10, 2.228139), (30, 2.042272)],
)
def test_t_quantile_matches_the_published_table(df: int, expected: float) -> None:
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=1e-6)


def test_t_cdf_is_symmetric_and_cauchy_for_one_degree() -> None:
    assert t_cdf(0.0, 3) == pytest.approx(0.5)
    assert t_cdf(-1.3, 5) == pytest.approx(1 - t_cdf(1.3, 5), abs=1e-12)
    assert t_cdf(1.0, 1) == pytest.approx(0.75, abs=1e-9)  # Cauchy: 1/2 + atan(1)/pi


def test_t_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="degrees of freedom"):
        t_cdf(1.0, 0)
    with pytest.raises(ValueError, match="quantile level"):
        t_quantile(0.4, 3)


def test_paired_difference_by_hand() -> None:
    # differences 1, 2, 3: mean 2, sample sd 1, half-width t(0.975, 2) / sqrt(3)
    found = paired_difference([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    half = 4.302653 / math.sqrt(3)
    assert (found.mean, found.n) == (2.0, 3)
    assert found.low == pytest.approx(2.0 - half, abs=1e-5)
    assert found.high == pytest.approx(2.0 + half, abs=1e-5)


def test_paired_difference_pairs_by_position() -> None:
    # the same values paired differently: identical differences give a zero-width interval
    same = paired_difference([0.90, 0.80, 0.70], [0.89, 0.79, 0.69])
    assert same.mean == pytest.approx(0.01)
    assert same.high - same.low == pytest.approx(0.0, abs=1e-12)
    crossed = paired_difference([0.90, 0.80, 0.70], [0.69, 0.79, 0.89])
    assert crossed.high - crossed.low > 0.5


def test_paired_difference_of_one_seed_has_no_interval_and_bad_lengths_fail() -> None:
    one = paired_difference([0.9], [0.8])
    assert one.mean == pytest.approx(0.1) and math.isnan(one.low) and math.isnan(one.high)
    with pytest.raises(ValueError, match="equal, non-empty"):
        paired_difference([0.9, 0.8], [0.8])
    with pytest.raises(ValueError, match="equal, non-empty"):
        paired_difference([], [])


def test_accuracy_rule_needs_multi_krum_and_clean_minus_margin_on_the_means() -> None:
    clean = [0.90, 0.92, 0.91]
    assert accuracy_met([0.90, 0.91, 0.90], [0.89, 0.91, 0.90], clean)
    # one seed below Multi-Krum is fine when the mean is not
    assert accuracy_met([0.88, 0.93, 0.90], [0.90, 0.90, 0.90], clean)
    # the mean below Multi-Krum's fails
    assert not accuracy_met([0.90, 0.90, 0.90], [0.90, 0.90, 0.91], clean)
    # at least Multi-Krum but more than the margin below clean fails
    low = mean(clean) - ACCURACY_MARGIN - 0.001
    assert not accuracy_met([low] * 3, [0.5] * 3, clean)
    with pytest.raises(ValueError, match="one accuracy per seed"):
        accuracy_met([0.9], [0.9, 0.9], [0.9])
    with pytest.raises(ValueError, match="mean of no values"):
        mean([])
