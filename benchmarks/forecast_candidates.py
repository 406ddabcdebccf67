"""Candidate daily gas forecasters scored against the shipped one on the two validation years only, in one run.

Usage: python benchmarks/forecast_candidates.py [--data FOLDER] [--only NAME ...] [--out FILE]

Every candidate and the shipped method run through the same rolling-origin code (``analytics.fees.backtest``
with a different ``fitter``): refitted every 7 days on the last 1,095 days before the forecast day, each day
forecast from the days before it, 80% interval from the 182 days before each refit. The years are fixed to
2022-06-02..2023-06-01 and 2023-06-02..2024-06-01; this script cannot score the evaluation year.

Adoption rule, fixed before any candidate was scored: a candidate is adopted only if its next-day MAE is
below the shipped method's on BOTH validation years (both measured in this script) and its 80% coverage is
within 75%..85% on both. If several pass, the one with the lowest mean of its two MAE ratios to the shipped
method is adopted; no combination of candidates is formed after seeing the results.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ledgerml.analytics.fees.backtest import backtest
from ledgerml.analytics.fees.baselines import naive
from ledgerml.analytics.fees.daily import DailySeries, load_daily
from ledgerml.analytics.fees.evaluation import coverage, diebold_mariano, mae
from ledgerml.analytics.fees.features import feature_matrix, lagged, mean_before, targets
from ledgerml.analytics.fees.forecaster import (
    Fitter,
    MedianPair,
    Predictor,
    fit_boosted_median,
    fit_linear_median,
    fit_median_pair,
    fit_pair,
    fit_week_mean,
)
from ledgerml.errors import LedgerMLError

VALIDATION = (("2022-06-02", "2023-06-01"), ("2023-06-02", "2024-06-01"))
COVERAGE_BAND = (0.75, 0.85)
WEEK = 7


def _weekday(series: DailySeries, step: int, origins: np.ndarray) -> np.ndarray:
    return np.asarray((series.days[0] + origins + step + 3) % 7)


def lags28_features(series: DailySeries, step: int, origins: np.ndarray) -> np.ndarray:
    """Shipped rows plus the same-weekday daily log changes 14, 21, 28 days back and the 14/21/28-day changes."""
    log_gas = np.log(series.gas_gwei)
    last = lagged(log_gas, 1, origins)
    extra = [lagged(log_gas, k, origins) - lagged(log_gas, k + 1, origins) for k in (14, 21, 28)]
    extra += [last - lagged(log_gas, 1 + k, origins) for k in (14, 21, 28)]
    return np.column_stack([feature_matrix(series, step, origins), *extra])


def weekday_x_change_features(series: DailySeries, step: int, origins: np.ndarray) -> np.ndarray:
    """Shipped rows plus the target weekday (one-hot) times the last daily and the last weekly log change."""
    log_gas = np.log(series.gas_gwei)
    daily = lagged(log_gas, 1, origins) - lagged(log_gas, 2, origins)
    weekly = lagged(log_gas, 1, origins) - lagged(log_gas, 8, origins)
    weekday = _weekday(series, step, origins)
    onehot = [(weekday == d).astype(np.float64) for d in range(7)]
    return np.column_stack(
        [feature_matrix(series, step, origins), *(h * daily for h in onehot), *(h * weekly for h in onehot)]
    )


def eip1559_features(series: DailySeries, step: int, origins: np.ndarray) -> np.ndarray:
    """Shipped rows plus the utilisation's 7-day mean deviation from 0.5 (the EIP-1559 target; the base fee drifts
    with its sign) and the utilisation's week-on-week change."""
    rows = feature_matrix(series, step, origins)
    if not series.extra:
        return rows
    use = series.extra["used"] / series.extra["limit"]
    drift = mean_before(use, WEEK, origins) - 0.5
    return np.column_stack([rows, drift, lagged(use, 1, origins) - lagged(use, 8, origins)])


def _features_fitter(features: Callable[[DailySeries, int, np.ndarray], np.ndarray]) -> Fitter:
    def fit(history: DailySeries, step: int, origins: np.ndarray, seed: int) -> Predictor:
        return fit_median_pair(history, step, origins, seed, features)

    return fit


@dataclass(frozen=True)
class Clipped:
    """Shipped rows clipped column-wise to the training rows' 1%..99% range."""

    lo: np.ndarray
    hi: np.ndarray

    def __call__(self, series: DailySeries, step: int, origins: np.ndarray) -> np.ndarray:
        """The clipped rows."""
        return np.asarray(np.clip(feature_matrix(series, step, origins), self.lo, self.hi))


def fit_winsorised(history: DailySeries, step: int, origins: np.ndarray, seed: int) -> Predictor:
    """The pair fitted with spike days winsorised: targets and features clipped to their training 1%..99%."""
    rows, target = feature_matrix(history, step, origins), targets(history, step, origins)
    lo, hi = np.quantile(rows, [0.01, 0.99], axis=0)
    clip = Clipped(lo, hi)
    t_lo, t_hi = np.quantile(target, [0.01, 0.99])
    linear, boosted = fit_pair(np.clip(rows, lo, hi), np.clip(target, t_lo, t_hi), seed)
    return MedianPair(linear, boosted, clip)


def fit_linear_tree(history: DailySeries, step: int, origins: np.ndarray, seed: int) -> Predictor:
    """The pair with LightGBM's linear trees (a ridge model per leaf, lambda 1) in the boosted member."""
    rows, target = feature_matrix(history, step, origins), targets(history, step, origins)
    linear, boosted = fit_pair(rows, target, seed, {"linear_tree": True, "linear_lambda": 1.0})
    return MedianPair(linear, boosted)


def with_step(series: DailySeries, step: int, origins: np.ndarray) -> np.ndarray:
    """Shipped rows plus the step ahead as a column (the pooled model's input)."""
    return np.column_stack([feature_matrix(series, step, origins), np.full(len(origins), float(step))])


@dataclass(frozen=True)
class PooledPair:
    """The direct linear member and a boosted member pooled over steps 0..6 (step as a feature)."""

    linear: Any
    boosted: Any

    def predict(self, history: DailySeries, step: int, origins: np.ndarray) -> np.ndarray:
        """The mean of the two members' predicted log changes."""
        linear = self.linear.predict(feature_matrix(history, step, origins))
        return np.asarray((linear + self.boosted.predict(with_step(history, step, origins))) / 2.0)


def fit_pooled(history: DailySeries, step: int, origins: np.ndarray, seed: int) -> Predictor:
    """Linear member as shipped; boosted member trained on the rows of every step 0..6 whose target is known."""
    linear = fit_linear_median(feature_matrix(history, step, origins), targets(history, step, origins))
    blocks = [(s, origins[origins + s < len(history)]) for s in range(WEEK)]
    rows = np.vstack([with_step(history, s, o) for s, o in blocks])
    target = np.concatenate([targets(history, s, o) for s, o in blocks])
    boosted = fit_boosted_median(rows, target, seed)
    return PooledPair(linear, boosted)


CANDIDATES: dict[str, tuple[str, Fitter]] = {
    "shipped": ("mean(linear, LightGBM) median regressions, shipped until 2026-12-02", fit_median_pair),
    "lags28": (
        "+ same-weekday log changes 14/21/28 d back and 14/21/28-day changes",
        _features_fitter(lags28_features),
    ),
    "weekday-x-change": (
        "+ target weekday x last daily and weekly log change",
        _features_fitter(weekday_x_change_features),
    ),
    "eip1559-utilisation": (
        "+ 7-day utilisation - 0.5 and its week-on-week change",
        _features_fitter(eip1559_features),
    ),
    "week-mean-feature": ("+ linear median forecast of the next-7-day mean as a feature", fit_week_mean),
    "winsorised": ("spike days winsorised: target and features clipped to training 1..99%", fit_winsorised),
    "linear-tree": ("LightGBM member with linear trees (linear_lambda 1)", fit_linear_tree),
    "pooled-horizons": ("LightGBM member pooled over horizons 1..7 (horizon as feature)", fit_pooled),
}


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} {five:.1f} {fifteen:.1f}"


def score_year(series: DailySeries, fitter: Fitter, start: str, end: str) -> dict[str, Any]:
    """One validation year through the shipped backtest code: MAE, naive's MAE, coverage, errors, time, load."""
    cut = series.upto(series.index_of(end) + 1)
    first = cut.index_of(start)
    actual = cut.gas_gwei[first:]
    load_before, cpu, wall = _load(), time.process_time(), time.perf_counter()
    result = backtest(cut, start, fitter=fitter)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    point = np.array([f.forecast_gwei for f in result.forecasts])
    lo = np.array([f.lo80_gwei for f in result.forecasts])
    hi = np.array([f.hi80_gwei for f in result.forecasts])
    return {
        "mae": mae(point, actual),
        "naive_mae": mae(naive(cut, first), actual),
        "coverage80": coverage(lo, hi, actual),
        "errors": (point - actual).tolist(),
        "cpu_s": cpu,
        "wall_s": wall,
        "load": f"{load_before} -> {_load()}",
    }


def decide(results: dict[str, list[dict[str, Any]]]) -> tuple[str | None, dict[str, bool]]:
    """The fixed rule: below shipped MAE on both years and coverage within the band on both; best mean ratio."""
    shipped = results["shipped"]
    passed: dict[str, bool] = {}
    ratios: dict[str, float] = {}
    for name, years in results.items():
        if name == "shipped" or len(years) < len(VALIDATION):
            continue
        better = all(y["mae"] < s["mae"] for y, s in zip(years, shipped, strict=True))
        covered = all(COVERAGE_BAND[0] <= y["coverage80"] <= COVERAGE_BAND[1] for y in years)
        passed[name] = better and covered
        ratios[name] = float(np.mean([y["mae"] / s["mae"] for y, s in zip(years, shipped, strict=True)]))
    adopted = [n for n, ok in passed.items() if ok]
    return (min(adopted, key=ratios.__getitem__) if adopted else None), passed


def _cell(year: dict[str, Any], shipped: dict[str, Any] | None) -> str:
    text = f"{year['mae']:.3f} ({year['mae'] / year['naive_mae'] - 1:+.1%}), cov {year['coverage80']:.1%}"
    if shipped is not None:
        test = diebold_mariano(np.array(year["errors"]), np.array(shipped["errors"]))
        text += f", DM {test.statistic:+.2f} p {test.p_value:.2g}"
    return text + f", {year['cpu_s']:.0f} s CPU"


def print_table(results: dict[str, list[dict[str, Any]]]) -> None:
    """The Markdown table: per year MAE (vs naive), coverage, DM against the shipped method, CPU; the decision."""
    adopted, passed = decide(results)
    print("| candidate | 2022-06-02..2023-06-01 | 2023-06-02..2024-06-01 | rule |")
    print("|---|---|---|---|")
    shipped = results["shipped"]
    for name, years in results.items():
        cells = [_cell(y, None if name == "shipped" else s) for y, s in zip(years, shipped, strict=False)]
        verdict = "reference" if name == "shipped" else ("passes" if passed.get(name) else "fails")
        print(f"| {name}: {CANDIDATES[name][0]} | {' | '.join(cells)} | {verdict} |")
    print(f"\nadopted: {adopted or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = Path(os.environ.get("LEDGERML_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--data", type=Path, default=root / "eth_gas_daily")
    parser.add_argument("--only", nargs="*", default=None, help="Candidates to score (the shipped one always runs).")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/forecast-candidates.json"))
    args = parser.parse_args()
    names = ["shipped", *[n for n in (args.only or CANDIDATES) if n != "shipped"]]
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        print(f"error: unknown candidate {unknown[0]!r} (known: {', '.join(CANDIDATES)})", file=sys.stderr)
        raise SystemExit(2)
    try:
        series = load_daily(args.data)
    except LedgerMLError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    results: dict[str, list[dict[str, Any]]] = {}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for name in names:
        results[name] = []
        for start, end in VALIDATION:
            results[name].append(score_year(series, CANDIDATES[name][1], start, end))
            year = results[name][-1]
            print(
                f"{name} {start}: {year['mae']:.3f} cov {year['coverage80']:.1%} {year['cpu_s']:.0f} s CPU, "
                f"load {year['load']}",
                file=sys.stderr,
                flush=True,
            )
            args.out.write_text(json.dumps(results))
    print_table(results)


if __name__ == "__main__":
    main()
