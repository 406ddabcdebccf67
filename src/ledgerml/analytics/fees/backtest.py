"""Rolling-origin backtest: one forecast per day, each computed only from the days before its origin."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...errors import ConfigError
from .daily import DailySeries
from .forecaster import Fitter, Forecast, StepModel, _check_params, fit_step, fit_week_mean, forecast_from

REFIT_EVERY = 7


@dataclass(frozen=True)
class BacktestResult:
    """The forecasts and how often the models were refitted."""

    forecasts: list[Forecast]
    refit: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of ``ledgerml gas backtest``."""
        return {"forecasts": [f.to_dict() for f in self.forecasts], "refit": self.refit}


def backtest(
    series: DailySeries,
    start: str,
    *,
    horizon: int = 1,
    refit_every: int = REFIT_EVERY,
    window: int = 1095,
    calibration: int = 182,
    coverage: float = 0.8,
    progress: Callable[[int, int], None] | None = None,
    fitter: Fitter = fit_week_mean,
) -> BacktestResult:
    """Forecasts for every day from ``start`` to the last day of ``series``, ``horizon`` days ahead: the forecast
    for day t uses days before ``t - horizon + 1`` only (``series.upto``), models refitted every ``refit_every``
    origins counted from the first; ``fitter`` builds each model (the shipped method unless a candidate is
    being scored, ``benchmarks/forecast_candidates.py``)."""
    _check_params(window, calibration, coverage, horizon)
    if refit_every < 1:
        raise ConfigError(f"refit_every must be at least 1, got {refit_every}")
    first = series.index_of(start)
    step = horizon - 1
    first_origin = first - step
    if first_origin < 1:
        raise ConfigError(f"--start {start} leaves no history before it")
    model: StepModel | None = None
    forecasts = []
    total = len(series) - first
    for n, origin in enumerate(range(first_origin, len(series) - step)):
        history = series.upto(origin)
        if model is None or n % refit_every == 0:
            model = fit_step(history, step, window=window, calibration=calibration, coverage=coverage, fitter=fitter)
        forecasts.append(forecast_from(history, model, step))
        if progress is not None:
            progress(n + 1, total)
    refit = (
        f"every {refit_every} days from {start}, on the last {window} days before each refit (intervals: "
        f"{coverage:.0%} quantiles of the out-of-sample residuals of the {calibration} days before it)"
    )
    return BacktestResult(forecasts, refit)
