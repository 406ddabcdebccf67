"""Features of the daily forecaster: for a forecast origin ``i`` (the first unknown day) only days before ``i``."""

from __future__ import annotations

import numpy as np

from .daily import DailySeries

FIRST_ORIGIN = 30
"""The earliest origin with a full feature row (the longest look-back is 28 days plus one difference)."""
LAGS = 7


def lagged(values: np.ndarray, lag: int, origins: np.ndarray) -> np.ndarray:
    """``values[i - lag]`` for every origin ``i``."""
    return np.asarray(values[origins - lag])


def mean_before(values: np.ndarray, width: int, origins: np.ndarray) -> np.ndarray:
    """The mean of ``values[i - width : i]`` for every origin ``i``."""
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    return np.asarray((cumulative[origins] - cumulative[origins - width]) / width)


def _endogenous(log_gas: np.ndarray, origins: np.ndarray) -> list[np.ndarray]:
    last = lagged(log_gas, 1, origins)
    columns = [lagged(log_gas, k, origins) - lagged(log_gas, k + 1, origins) for k in range(1, LAGS + 1)]
    columns += [last - mean_before(log_gas, 7, origins), last - mean_before(log_gas, 28, origins)]
    columns += [lagged(log_gas, 1 + k, origins) - lagged(log_gas, 8 + k, origins) for k in range(LAGS)]
    return columns


def _exogenous(extra: dict[str, np.ndarray], origins: np.ndarray) -> list[np.ndarray]:
    if not extra:
        return []
    tx, ether = np.log(extra["tx"]), np.log(extra["ether"])
    use = extra["used"] / extra["limit"]
    return [
        lagged(tx, 1, origins) - lagged(tx, 2, origins),
        lagged(tx, 1, origins) - lagged(tx, 8, origins),
        lagged(use, 1, origins),
        lagged(use, 1, origins) - lagged(use, 2, origins),
        lagged(ether, 1, origins) - lagged(ether, 2, origins),
        lagged(ether, 1, origins) - lagged(ether, 8, origins),
    ]


def feature_matrix(series: DailySeries, step: int, origins: np.ndarray) -> np.ndarray:
    """One row per origin: lagged log differences, weekly differences, levels against 7/28-day means, extra-series
    changes, and the weekday of the target day ``origin + step`` (one-hot)."""
    log_gas = np.log(series.gas_gwei)
    columns = _endogenous(log_gas, origins) + _exogenous(series.extra, origins)
    weekday = (series.days[0] + origins + step + 3) % 7  # Unix day 0 was a Thursday: +3 makes Monday 0
    columns += [(weekday == d).astype(np.float64) for d in range(7)]
    return np.column_stack(columns)


def targets(series: DailySeries, step: int, origins: np.ndarray) -> np.ndarray:
    """``log gas[origin + step] - log gas[origin - 1]`` (callers pass only origins whose target is known)."""
    log_gas = np.log(series.gas_gwei)
    return np.asarray(log_gas[origins + step] - log_gas[origins - 1])
