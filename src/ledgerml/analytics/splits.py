"""Train/test splits for analytics tasks: grouped stratified folds (accounts) and expanding-window time-series
folds with a gap (blocks, prices, gas), as index arrays a scikit-learn splitter would give."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from ..errors import ConfigError

Fold = tuple[np.ndarray, np.ndarray]


def grouped_stratified_folds(y: np.ndarray, groups: np.ndarray, *, folds: int = 5, seed: int = 0) -> Iterator[Fold]:
    """Stratified k-fold where rows of one group (an address) always fall in the same fold."""
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    yield from splitter.split(np.zeros(len(y)), y, groups)


def time_series_folds(times: Any, *, folds: int = 5, gap: int = 0, min_train: int | None = None) -> Iterator[Fold]:
    """Expanding-window folds ordered by ``times``: fold k trains on everything before its test window, less
    the ``gap`` rows just before it; a row is never trained on with a time at or after any test row's time.

    Rows are ordered stably by time and cut into ``folds`` test windows of equal size after the first
    ``min_train`` rows (default: one window). Ties at a window's start are left out of its training part.
    """
    order, stamps = _time_order(times)
    n = len(order)
    if folds < 1 or gap < 0:
        raise ConfigError("a time-series split needs folds >= 1 and gap >= 0")
    window = n // (folds + 1) if min_train is None else (n - min_train) // folds
    first_test = n - folds * window
    if window < 1 or first_test - gap < 1:
        raise ConfigError(f"{n} rows are too few for {folds} time-series folds with a gap of {gap}")
    for fold in range(folds):
        start = first_test + fold * window
        test = order[start : start + window]
        train = order[: start - gap]
        train = train[stamps[train] < stamps[test].min()]
        if len(train) == 0:
            raise ConfigError(f"time-series fold {fold + 1} has no rows strictly before its test window")
        yield train, test


def _time_order(times: Any) -> tuple[np.ndarray, np.ndarray]:
    """Stable time order of the rows and their times as one numeric array; ``ConfigError`` on NaN."""
    stamps = np.asarray(times)
    if np.issubdtype(stamps.dtype, np.datetime64):
        stamps = stamps.astype("datetime64[ns]").astype(np.int64)
    try:
        stamps = stamps.astype(np.float64)
    except (TypeError, ValueError):
        raise ConfigError("the time column must be numeric or datetime") from None
    if stamps.ndim != 1 or np.isnan(stamps).any():
        raise ConfigError("the time column must be one-dimensional without missing values")
    return np.argsort(stamps, kind="stable"), stamps


class TimeSeriesFolds:
    """:func:`time_series_folds` as a scikit-learn splitter over a DataFrame's ``time_column``."""

    def __init__(self, time_column: str, n_splits: int = 5, gap: int = 0) -> None:
        self.time_column, self.n_splits, self.gap = time_column, n_splits, gap

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Iterator[Fold]:
        """Yield ``(train, test)`` positions."""
        if self.time_column not in getattr(X, "columns", ()):
            raise ConfigError(f"the data has no time column {self.time_column!r}")
        yield from time_series_folds(X[self.time_column].to_numpy(), folds=self.n_splits, gap=self.gap)

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """The number of folds."""
        return self.n_splits
