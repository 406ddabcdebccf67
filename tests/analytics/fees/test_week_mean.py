"""The shipped forecaster's week-mean feature: learned from complete weeks only, computed from the past only."""

from __future__ import annotations

import numpy as np

from ledgerml.analytics.fees.daily import DailySeries
from ledgerml.analytics.fees.features import FIRST_ORIGIN, feature_matrix, targets
from ledgerml.analytics.fees.forecaster import WEEK, WeekMeanFeature, fit_week_mean


def _weekly_series(days: int = 200, noise: float = 0.01, seed: int = 3) -> DailySeries:
    """Log gas = a fixed weekly pattern plus small noise (gas price only, no extra series)."""
    rng = np.random.default_rng(seed)
    pattern = np.array([0.0, 0.1, 0.25, 0.2, 0.05, -0.2, -0.3])
    log_gas = np.log(20.0) + pattern[np.arange(days) % 7] + rng.normal(0, noise, days)
    return DailySeries(np.arange(18_000, 18_000 + days), np.exp(log_gas), {})


def test_the_extra_column_forecasts_the_coming_weeks_mean_change() -> None:
    # Prepare: a series whose next-7-day mean change is determined by the weekday and the last value
    series = _weekly_series()
    origins = np.arange(FIRST_ORIGIN, len(series))
    # Execute: fit on the whole series (origins whose 7 days run past its end must be left out)
    model = fit_week_mean(series, 0, origins, seed=0)
    assert isinstance(model.features, WeekMeanFeature)
    rows = model.features(series, 0, origins)
    # Assert: one more column than the shipped features, close to the realised 7-day mean, unlike the next day
    assert rows.shape == (len(origins), feature_matrix(series, 0, origins).shape[1] + 1)
    inside = origins[origins + WEEK - 1 < len(series)]
    week_mean = np.mean([targets(series, s, inside) for s in range(WEEK)], axis=0)
    column = rows[: len(inside), -1]
    assert np.mean(np.abs(column - week_mean)) < 0.02
    assert np.mean(np.abs(column - targets(series, 0, inside))) > 0.05


def test_the_extra_column_uses_only_days_before_each_origin() -> None:
    # Prepare: one fitted feature, and the same series with every value from day k on tripled
    series = _weekly_series()
    feature = fit_week_mean(series, 0, np.arange(FIRST_ORIGIN, 150), seed=0).features
    k = 120
    gas = series.gas_gwei.copy()
    gas[k:] *= 3.0
    changed = DailySeries(series.days, gas, {})
    origins = np.arange(FIRST_ORIGIN, len(series))
    # Execute
    before, after = feature(series, 0, origins)[:, -1], feature(changed, 0, origins)[:, -1]
    # Assert: identical for origins up to k (their days are all before k), different right after
    upto = origins <= k
    assert np.array_equal(before[upto], after[upto])
    assert before[~upto][0] != after[~upto][0]
