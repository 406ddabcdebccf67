"""A paired bootstrap over test rows: how far the difference of one measure between two models' scores on the
same rows moves when the rows are resampled (Efron's percentile interval)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Measure = Callable[[np.ndarray, np.ndarray], float]


def paired_bootstrap(
    y: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    measure: Measure,
    *,
    resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """``measure(first) - measure(second)`` on the rows as they are, and the ``level`` percentile interval of
    that difference over ``resamples`` resamplings of the rows (with replacement; the same rows for both
    models; resamples where the measure is undefined are left out)."""
    y, first, second = np.asarray(y), np.asarray(first), np.asarray(second)
    rng = np.random.default_rng(seed)
    differences = []
    for _ in range(resamples):
        rows = rng.integers(0, len(y), len(y))
        difference = measure(y[rows], first[rows]) - measure(y[rows], second[rows])
        if np.isfinite(difference):
            differences.append(difference)
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(differences, [tail, 100.0 - tail]) if differences else (np.nan, np.nan)
    return measure(y, first) - measure(y, second), float(low), float(high)
