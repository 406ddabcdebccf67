"""Forecast evaluation: MAE, interval coverage and the Diebold-Mariano test (Harvey-Leybourne-Newbold form)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...errors import ConfigError


def mae(forecast: np.ndarray, actual: np.ndarray) -> float:
    """Mean absolute error."""
    return float(np.mean(np.abs(np.asarray(forecast) - np.asarray(actual))))


def coverage(lo: np.ndarray, hi: np.ndarray, actual: np.ndarray) -> float:
    """The share of actual values inside ``[lo, hi]``."""
    actual = np.asarray(actual)
    return float(np.mean((actual >= lo) & (actual <= hi)))


@dataclass(frozen=True)
class DieboldMariano:
    """DM statistic (negative: the first forecast has the smaller loss) and its two-sided p-value."""

    statistic: float
    p_value: float
    mean_loss_difference: float


def _t_two_sided(statistic: float, dof: int) -> float:
    from scipy import stats

    return float(2.0 * stats.t.sf(abs(statistic), dof))


def diebold_mariano(errors_a: np.ndarray, errors_b: np.ndarray, horizon: int = 1) -> DieboldMariano:
    """Test equal absolute-error loss of two forecasts of the same days (HLN small-sample correction, t(n-1))."""
    a, b = np.asarray(errors_a, dtype=float), np.asarray(errors_b, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 10:
        raise ConfigError("the Diebold-Mariano test needs two error series of the same length, at least 10")
    d = np.abs(a) - np.abs(b)
    n, mean = len(d), float(d.mean())
    centred = d - mean
    gamma = [float(centred[k:] @ centred[: n - k]) / n for k in range(horizon)]
    variance = (gamma[0] + 2.0 * sum(gamma[1:])) / n
    if variance <= 0:
        return DieboldMariano(0.0 if mean == 0 else math.copysign(math.inf, mean), 0.0 if mean else 1.0, mean)
    correction = math.sqrt((n + 1 - 2 * horizon + horizon * (horizon - 1) / n) / n)
    statistic = correction * mean / math.sqrt(variance)
    return DieboldMariano(statistic, _t_two_sided(statistic, n - 1), mean)
