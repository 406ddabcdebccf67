"""Baselines measured beside the forecaster: naive persistence, the 7-day mean and statsforecast AutoETS on log gas
(weekly season), each forecasting day t from days before t only."""

from __future__ import annotations

import numpy as np

from .daily import DailySeries


def naive(series: DailySeries, first: int) -> np.ndarray:
    """Yesterday's value for every day from index ``first``."""
    return series.gas_gwei[first - 1 : -1].copy()


def mean7(series: DailySeries, first: int) -> np.ndarray:
    """The mean of the 7 days before, for every day from index ``first``."""
    gas = series.gas_gwei
    return np.array([gas[t - 7 : t].mean() for t in range(first, len(gas))])


def auto_ets_log(series: DailySeries, first: int, *, window: int = 1095, season_length: int = 7) -> np.ndarray:
    """statsforecast ``AutoETS`` on log gas, refitted every day on the last ``window`` days, back-transformed."""
    from statsforecast.models import AutoETS

    log_gas = np.log(series.gas_gwei)
    out = []
    for t in range(first, len(log_gas)):
        model = AutoETS(season_length=season_length)
        out.append(float(np.exp(model.forecast(log_gas[max(0, t - window) : t], h=1)["mean"][0])))
    return np.array(out)
