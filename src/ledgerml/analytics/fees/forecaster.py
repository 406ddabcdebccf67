"""The daily gas-price forecaster: a combination of linear and gradient-boosted median regressions on log-price
changes, given a linear median forecast of the coming week's mean change as one more feature, with 80% intervals
from its own out-of-sample residuals (split conformal), and the rolling backtest.

The method was chosen by rolling-origin validation on 2022-06-02..2023-06-01 and 2023-06-02..2024-06-01 only
(docs/forecasting.md, benchmarks/forecast_candidates.py). Medians are kept under ``exp``, so the forecast
estimates the conditional median price, which is what minimises the mean absolute error in gwei.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ...errors import ConfigError
from .daily import DailySeries
from .features import FIRST_ORIGIN, feature_matrix, targets

MIN_TRAIN = 56
MIN_CHECK = 28


@dataclass(frozen=True)
class Forecast:
    """One forecast day: the median and the central interval, in gwei."""

    date: str
    forecast_gwei: float
    lo80_gwei: float
    hi80_gwei: float

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of the interface."""
        return {
            "date": self.date,
            "forecast_gwei": self.forecast_gwei,
            "lo80_gwei": self.lo80_gwei,
            "hi80_gwei": self.hi80_gwei,
        }


FeatureFn = Callable[[DailySeries, int, np.ndarray], np.ndarray]
"""``features(history, step, origins)``: one row per origin, from the days before it only."""


class Predictor(Protocol):
    """A fitted model of the log change from the day before each origin to ``step`` days past it."""

    def predict(self, history: DailySeries, step: int, origins: np.ndarray) -> np.ndarray:
        """The predicted log change for every origin (from the days before it only)."""
        ...


Fitter = Callable[[DailySeries, int, np.ndarray, int], Predictor]
"""``fit(history, step, origins, seed)``: a predictor learned from ``origins``, whose target days all lie in
``history`` (``fit_step`` passes a history cut where the fit must stop)."""


@dataclass(frozen=True)
class MedianPair:
    """The mean of a linear and a gradient-boosted median regression on ``features`` rows."""

    linear: Any
    boosted: Any
    features: FeatureFn = feature_matrix

    def predict(self, history: DailySeries, step: int, origins: np.ndarray) -> np.ndarray:
        """The combined predicted log change."""
        rows = self.features(history, step, origins)
        return np.asarray((self.linear.predict(rows) + self.boosted.predict(rows)) / 2.0)


@dataclass(frozen=True)
class StepModel:
    """The fitted predictor for one step ahead and its residual quantiles (log scale)."""

    predictor: Predictor
    lo: float
    hi: float


BOOSTED = {
    "objective": "quantile",
    "alpha": 0.5,
    "n_estimators": 200,
    "learning_rate": 0.03,
    "num_leaves": 8,
    "min_child_samples": 20,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "deterministic": True,
    "force_row_wise": True,
    "n_jobs": 1,
    "verbose": -1,
}
"""The boosted member's settings (``fit_pair``'s ``boosted`` overrides them)."""


def fit_linear_median(rows: np.ndarray, target: np.ndarray) -> Any:
    """A linear median regression (the shipped linear member)."""
    from sklearn.linear_model import QuantileRegressor

    return QuantileRegressor(quantile=0.5, alpha=1e-4, solver="highs").fit(rows, target)


def fit_boosted_median(rows: np.ndarray, target: np.ndarray, seed: int, boosted: dict[str, Any] | None = None) -> Any:
    """A small gradient-boosted median regression (``BOOSTED``, with ``boosted`` overriding its settings)."""
    import lightgbm as lgb

    return lgb.LGBMRegressor(**{**BOOSTED, "random_state": seed, **(boosted or {})}).fit(rows, target)


def fit_pair(rows: np.ndarray, target: np.ndarray, seed: int, boosted: dict[str, Any] | None = None) -> tuple[Any, Any]:
    """A linear median regression and a small gradient-boosted median regression."""
    return fit_linear_median(rows, target), fit_boosted_median(rows, target, seed, boosted)


def fit_median_pair(
    history: DailySeries, step: int, origins: np.ndarray, seed: int, features: FeatureFn = feature_matrix
) -> MedianPair:
    """Both median regressions on ``features`` rows of ``origins`` (the shipped method until 2026-12-02)."""
    linear, boosted = fit_pair(features(history, step, origins), targets(history, step, origins), seed)
    return MedianPair(linear, boosted, features)


WEEK = 7


@dataclass(frozen=True)
class WeekMeanFeature:
    """Feature rows plus a linear median regression's forecast of the mean log change over the 7 days from the
    origin (a smoothed view of where the price is heading, for the boosted member to split on)."""

    weekly: Any

    def __call__(self, series: DailySeries, step: int, origins: np.ndarray) -> np.ndarray:
        """The rows with the extra column (from the days before each origin only)."""
        smooth = self.weekly.predict(feature_matrix(series, 0, origins))
        return np.column_stack([feature_matrix(series, step, origins), smooth])


def fit_week_mean(history: DailySeries, step: int, origins: np.ndarray, seed: int) -> MedianPair:
    """The shipped predictor: the weekly-mean regression on the origins whose 7 days lie in ``history``, then
    both median regressions on the rows with its forecast added."""
    inside = origins[origins + WEEK - 1 < len(history)]
    target = np.mean([targets(history, s, inside) for s in range(WEEK)], axis=0)
    weekly = fit_linear_median(feature_matrix(history, 0, inside), target)
    return fit_median_pair(history, step, origins, seed, WeekMeanFeature(weekly))


def fit_step(
    history: DailySeries,
    step: int,
    *,
    window: int,
    calibration: int,
    coverage: float,
    seed: int = 0,
    fitter: Fitter = fit_week_mean,
) -> StepModel:
    """The model forecasting ``step`` days past the end of ``history`` (step 0 = the next day), from ``history``
    alone: fitted on the last ``window`` usable origins; interval quantiles from a fit that stops ``calibration``
    origins earlier (a third of the usable history when shorter) and forecasts those origins out of sample."""
    last = len(history) - step  # origins whose target day is inside history
    usable = last - FIRST_ORIGIN
    check = min(calibration, max(MIN_CHECK, usable // 3))
    if usable - check < MIN_TRAIN:
        need = FIRST_ORIGIN + MIN_TRAIN + MIN_CHECK + step
        raise ConfigError(f"need at least {need} days of history before a forecast, got {len(history)}")
    split = last - check
    early = fitter(history.upto(split + step), step, np.arange(max(FIRST_ORIGIN, split - window), split), seed)
    held_out = np.arange(split, last)
    residuals = targets(history, step, held_out) - early.predict(history, step, held_out)
    tail = (1.0 - coverage) / 2.0
    lo, hi = np.quantile(residuals, [tail, 1.0 - tail])
    final = fitter(history, step, np.arange(max(FIRST_ORIGIN, last - window), last), seed)
    return StepModel(final, float(lo), float(hi))


def forecast_from(history: DailySeries, model: StepModel, step: int) -> Forecast:
    """The forecast for day ``len(history) + step`` from ``history`` and a model fitted on part of it."""
    origin = len(history)
    change = float(model.predictor.predict(history, step, np.array([origin]))[0])
    base = float(np.log(history.gas_gwei[-1])) + change
    from .daily import day_to_iso

    day = day_to_iso(int(history.days[0]) + origin + step)
    return Forecast(day, float(np.exp(base)), float(np.exp(base + model.lo)), float(np.exp(base + model.hi)))


@dataclass
class GasForecaster:
    """Next-days average gas price, statsforecast/scikit-learn style: ``fit(history)`` then ``predict(h)``.

    Hyperparameters are stored unchanged; ``fit`` learns ``models_`` (one per step up to ``max_horizon``).
    """

    window: int = 1095
    calibration: int = 182
    coverage: float = 0.8
    max_horizon: int = 7
    seed: int = 0
    history_: DailySeries | None = field(default=None, init=False, repr=False)
    models_: list[StepModel] = field(default_factory=list, init=False, repr=False)

    def fit(self, history: DailySeries) -> GasForecaster:
        """Learn from every day of ``history``; returns ``self``."""
        _check_params(self.window, self.calibration, self.coverage, self.max_horizon)
        self.models_ = [
            fit_step(
                history, step, window=self.window, calibration=self.calibration, coverage=self.coverage, seed=self.seed
            )
            for step in range(self.max_horizon)
        ]
        self.history_ = history
        return self

    def predict(self, h: int = 1) -> list[Forecast]:
        """Forecasts for the ``h`` days after the history."""
        if self.history_ is None:
            raise ConfigError("fit the forecaster before predict")
        if not 1 <= h <= len(self.models_):
            raise ConfigError(f"h must be 1..{len(self.models_)} (max_horizon), got {h}")
        return [forecast_from(self.history_, self.models_[step], step) for step in range(h)]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The hyperparameters (scikit-learn convention)."""
        return {
            "window": self.window,
            "calibration": self.calibration,
            "coverage": self.coverage,
            "max_horizon": self.max_horizon,
            "seed": self.seed,
        }


def _check_params(window: int, calibration: int, coverage: float, max_horizon: int) -> None:
    if window < MIN_TRAIN or calibration < MIN_CHECK:
        raise ConfigError(f"window must be at least {MIN_TRAIN} days and calibration at least {MIN_CHECK}")
    if not 0.0 < coverage < 1.0:
        raise ConfigError(f"coverage must be between 0 and 1, got {coverage}")
    if not 1 <= max_horizon <= 28:
        raise ConfigError(f"max_horizon must be 1..28, got {max_horizon}")
