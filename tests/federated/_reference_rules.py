"""The aggregation rules as they were before the O(n*d) rewrite (issue 19): the oracle the new ones must match
bit for bit on models of up to ``BLOCK`` parameters. Test-only; builds the n x n x d tensor."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ledgerml.errors import ConfigError


@dataclass(frozen=True)
class AggregationResult:
    """The old result type."""

    delta: np.ndarray
    accepted: tuple[int, ...]
    rejected: dict[int, str] = field(default_factory=dict)
    info: dict[str, float] = field(default_factory=dict)


def _check(deltas: np.ndarray, weights: np.ndarray) -> None:
    if deltas.ndim != 2 or deltas.shape[0] == 0:
        raise ConfigError("aggregation needs at least one update")
    if weights.shape != (deltas.shape[0],) or np.any(weights < 0):
        raise ConfigError("one non-negative weight per update is needed")


def _weighted_mean(deltas: np.ndarray, weights: np.ndarray) -> np.ndarray:
    total = float(weights.sum())
    if total <= 0:
        return np.asarray(deltas.mean(axis=0), dtype=np.float64)
    return np.asarray((deltas * (weights / total)[:, None]).sum(axis=0), dtype=np.float64)


def fedavg(deltas: np.ndarray, weights: np.ndarray) -> AggregationResult:
    """Mean weighted by example counts (McMahan et al. 2017)."""
    _check(deltas, weights)
    return AggregationResult(_weighted_mean(deltas, weights), tuple(range(len(deltas))))


def median(deltas: np.ndarray, weights: np.ndarray) -> AggregationResult:
    """Coordinate-wise median (unweighted)."""
    _check(deltas, weights)
    return AggregationResult(np.median(deltas, axis=0), tuple(range(len(deltas))))


def trimmed_mean(deltas: np.ndarray, weights: np.ndarray, beta: float = 0.2) -> AggregationResult:
    """Coordinate-wise mean after dropping the ``floor(beta * n)`` largest and smallest values."""
    _check(deltas, weights)
    if not 0 <= beta < 0.5:
        raise ConfigError("trimmed_mean needs 0 <= beta < 0.5")
    n = len(deltas)
    k = int(np.floor(beta * n))
    ordered = np.sort(deltas, axis=0, kind="stable")
    kept = ordered[k : n - k]
    return AggregationResult(kept.mean(axis=0), tuple(range(n)), info={"trimmed_per_side": float(k)})


def pairwise_sq_distances(deltas: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances between all rows (elementwise, no BLAS, so the bits are reproducible)."""
    diff = deltas[:, None, :] - deltas[None, :, :]
    return np.asarray((diff * diff).sum(axis=2), dtype=np.float64)


def krum_scores(distances: np.ndarray, f: int) -> np.ndarray:
    """Krum score of each row: the sum of its ``n - f - 2`` smallest distances to the others."""
    n = distances.shape[0]
    closest = max(n - f - 2, 1)
    scores = np.empty(n)
    for i in range(n):
        others = np.sort(np.delete(distances[i], i), kind="stable")
        scores[i] = others[:closest].sum()
    return scores


def _effective_f(n: int, f: int | None, divisor: int) -> int:
    """The attacker count to tolerate: as asked (default: the most ``n`` allows), clamped to what ``n``
    updates can tolerate (``n >= 2f+3`` for Krum, ``n >= 4f+3`` for Bulyan), so a round with fewer usable
    updates than planned still aggregates - deterministically, so the auditor replays the same choice."""
    most = max(0, (n - 3) // divisor)
    return most if f is None else max(0, min(int(f), most))


def _multi_krum_select(deltas: np.ndarray, f: int, m: int) -> list[int]:
    """The ``m`` rows with the lowest Krum scores, scored once on the full set (as Flower's
    ``select_multikrum`` does; re-scoring a shrinking set degenerates once fewer than ``2f + 3`` remain)."""
    scores = krum_scores(pairwise_sq_distances(deltas), f) if len(deltas) > 1 else np.zeros(1)
    return [int(i) for i in np.argsort(scores, kind="stable")[:m]]


def krum(deltas: np.ndarray, weights: np.ndarray, f: int | None = None) -> AggregationResult:
    """The single update with the lowest Krum score."""
    _check(deltas, weights)
    n = len(deltas)
    f = _effective_f(n, f, 2)
    winner = _multi_krum_select(deltas, f, 1)[0]
    rejected = {i: "not selected by krum" for i in range(n) if i != winner}
    return AggregationResult(deltas[winner].astype(np.float64), (winner,), rejected, {"f": float(f)})


def multi_krum(
    deltas: np.ndarray, weights: np.ndarray, f: int | None = None, m: int | None = None
) -> AggregationResult:
    """Weighted mean of the ``m`` updates chosen by repeated Krum (default ``m = n - f``)."""
    _check(deltas, weights)
    n = len(deltas)
    f = _effective_f(n, f, 2)
    m = n - f if m is None else max(1, min(int(m), n))
    chosen = sorted(_multi_krum_select(deltas, f, m))
    rejected = {i: "not selected by multi_krum" for i in range(n) if i not in chosen}
    return AggregationResult(
        _weighted_mean(deltas[chosen], weights[chosen]), tuple(chosen), rejected, {"f": float(f), "m": float(m)}
    )


def bulyan(deltas: np.ndarray, weights: np.ndarray, f: int | None = None) -> AggregationResult:
    """Bulyan: choose ``n - 2f`` updates by Multi-Krum, then per coordinate average the ``n - 4f`` values
    closest to the coordinate's median among them (``f`` clamped so that ``n >= 4f + 3``)."""
    _check(deltas, weights)
    n = len(deltas)
    f = _effective_f(n, f, 4)
    theta = n - 2 * f
    chosen = sorted(_multi_krum_select(deltas, f, theta))
    selected = deltas[chosen]
    beta = theta - 2 * f
    centre = np.median(selected, axis=0)
    order = np.argsort(np.abs(selected - centre), axis=0, kind="stable")[:beta]
    closest = np.take_along_axis(selected, order, axis=0)
    rejected = {i: "not selected by bulyan" for i in range(n) if i not in chosen}
    return AggregationResult(closest.mean(axis=0), tuple(chosen), rejected, {"f": float(f), "beta": float(beta)})


def norm_clipped_mean(deltas: np.ndarray, weights: np.ndarray, clip: float = 1.0) -> AggregationResult:
    """Weighted mean after scaling every delta down to L2 norm at most ``clip`` (Sun et al. 2019)."""
    _check(deltas, weights)
    if clip <= 0:
        raise ConfigError("norm_clipped_mean needs clip > 0")
    norms = np.sqrt((deltas * deltas).sum(axis=1))
    scale = np.minimum(1.0, clip / np.maximum(norms, 1e-300))
    clipped = deltas * scale[:, None]
    return AggregationResult(
        _weighted_mean(clipped, weights), tuple(range(len(deltas))), info={"clipped": float((scale < 1).sum())}
    )


OLD_RULES = {
    "fedavg": fedavg,
    "median": median,
    "trimmed_mean": trimmed_mean,
    "krum": krum,
    "multi_krum": multi_krum,
    "bulyan": bulyan,
    "norm_clipped_mean": norm_clipped_mean,
}
