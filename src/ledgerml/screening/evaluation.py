"""How the screening benchmark measures a detector: per-round AUROC, and paired differences over seeds with a
Student-t 95 % interval (plain functions; ``benchmarks/attacks.py`` runs the federations)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


def auroc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Area under the ROC curve (Mann-Whitney, ties count half); None without both classes."""
    if len(scores) != len(labels):
        raise ValueError(f"{len(scores)} scores for {len(labels)} labels")
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not pos or not neg:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return float(wins / (len(pos) * len(neg)))


def _student_t(df: int) -> Any:
    """SciPy's Student t distribution with ``df`` degrees of freedom (as the Diebold-Mariano test in
    ``analytics.fees.evaluation`` uses), ``df`` checked."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {df}")
    from scipy import stats

    return stats.t(df)


def t_cdf(x: float, df: int) -> float:
    """Student t distribution's CDF at ``x`` with ``df`` degrees of freedom."""
    return float(_student_t(df).cdf(x))


def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom, 0.5 < p < 1."""
    if not 0.5 < p < 1:
        raise ValueError(f"quantile level must be in (0.5, 1), got {p}")
    return float(_student_t(df).ppf(p))


@dataclass(frozen=True)
class PairedDifference:
    """The mean of paired differences ``a - b`` over seeds and its two-sided confidence interval."""

    mean: float
    low: float
    high: float
    n: int


def paired_difference(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> PairedDifference:
    """Mean of ``a[i] - b[i]`` with the Student-t interval at ``level``; one pair has no interval (nan)."""
    if len(a) != len(b) or not a:
        raise ValueError(f"paired differences need equal, non-empty sequences, got {len(a)} and {len(b)}")
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    n = len(diffs)
    mean = sum(diffs) / n
    if n == 1:
        return PairedDifference(mean, math.nan, math.nan, 1)
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    half = t_quantile(0.5 + level / 2, n - 1) * sd / math.sqrt(n)
    return PairedDifference(mean, mean - half, mean + half, n)


AUROC_TARGET = 0.95
"""Per-round AUROC a cell must reach (pooled over every round of every seed)."""
ACCURACY_MARGIN = 0.03
"""How far below clean FedAvg's mean final accuracy screening's may lie."""
FALSE_EXCLUSION_TARGET = 0.02
"""Largest share of honest participant-rounds excluded (pooled over seeds)."""


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean of a non-empty sequence."""
    if not values:
        raise ValueError("mean of no values")
    return sum(values) / len(values)


def accuracy_met(screened: Sequence[float], multi_krum: Sequence[float], clean: Sequence[float]) -> bool:
    """The accuracy target over seeds: screening's mean at least Multi-Krum's and at least clean's minus the
    margin (each sequence one final accuracy per seed, in the same seed order)."""
    if not len(screened) == len(multi_krum) == len(clean):
        raise ValueError(f"one accuracy per seed each, got {len(screened)}, {len(multi_krum)}, {len(clean)}")
    s = mean(screened)
    return s >= mean(multi_krum) and s >= mean(clean) - ACCURACY_MARGIN
