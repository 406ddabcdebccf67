"""Aggregation rules as plain numpy functions, deterministic to the bit for a given input order.

Every rule takes the updates as rows of *deltas* (update minus current global model) in a fixed participant
order (sorted by address) - a float matrix, or any ``Deltas`` source that reads column blocks and rows (the
artifact store streams through one, see ``federated.streaming``) - and the example counts, and returns the
aggregated delta with the indices it used and the reasons for those it did not. Memory is O(n * d): no rule
builds an n x n x d tensor. Accumulation is float64 throughout, in a fixed order: per coordinate over rows in
row order; a squared norm or distance sums each block of ``BLOCK`` coordinates (numpy's pairwise sum) and then
the block sums in order, so the bits do not depend on how the data were read. Ties are broken by row order.
References: Blanchard et al. 2017 (Krum, Multi-Krum), El Mhamdi et al. 2018 (Bulyan), Yin et al. 2018 (median,
trimmed mean).
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np

from ..errors import ConfigError

T = TypeVar("T")
_SCRATCH = threading.local()

BLOCK = 8192
"""Coordinates per block of a norm or distance sum: part of the rules' definition (it fixes the summation
order), not a tuning knob. Models of up to BLOCK parameters get exactly the bits of a single numpy sum."""

MAX_WORKERS = 4
"""Most threads block work uses by default."""

COLUMN_CELLS = 1 << 16
"""Values (rows x columns) per column block of a coordinate-wise rule; any value gives the same bits."""


@runtime_checkable
class Deltas(Protocol):
    """``n`` rows of ``d`` deltas read by column block or by row, always as float64."""

    @property
    def shape(self) -> tuple[int, int]:
        """``(n, d)``."""
        ...

    def columns(self, lo: int, hi: int) -> np.ndarray:
        """Columns ``lo:hi`` of every row as a new C-contiguous float64 ``(n, hi - lo)`` array (the rules may
        modify it)."""
        ...

    def row(self, i: int) -> np.ndarray:
        """Row ``i`` as a float64 ``(d,)`` array."""
        ...


class MatrixDeltas:
    """A ``Deltas`` view of an in-memory 2-D array (float32 rows are widened block by block, exactly)."""

    def __init__(self, matrix: np.ndarray) -> None:
        self.matrix = matrix

    @property
    def shape(self) -> tuple[int, int]:
        """``(n, d)``."""
        n, d = self.matrix.shape
        return int(n), int(d)

    def columns(self, lo: int, hi: int) -> np.ndarray:
        """Columns ``lo:hi`` as a new float64 array (never a view of the caller's matrix)."""
        return np.array(self.matrix[:, lo:hi], dtype=np.float64, order="C", copy=True)

    def row(self, i: int) -> np.ndarray:
        """Row ``i`` as float64."""
        return np.asarray(self.matrix[i], dtype=np.float64)


@dataclass(frozen=True)
class AggregationResult:
    """The aggregated delta, which rows were used, and why the others were not."""

    delta: np.ndarray
    accepted: tuple[int, ...]
    rejected: dict[int, str] = field(default_factory=dict)
    info: dict[str, float] = field(default_factory=dict)


def as_deltas(deltas: np.ndarray | Deltas) -> Deltas:
    """``deltas`` as a ``Deltas`` source; ``ConfigError`` unless it is 2-D with at least one row."""
    if not isinstance(deltas, np.ndarray) and isinstance(deltas, Deltas):
        source: Deltas = deltas
    else:
        try:
            matrix = np.asarray(deltas)
            matrix = matrix if matrix.dtype.kind == "f" else matrix.astype(np.float64)
        except (TypeError, ValueError):
            raise ConfigError("aggregation needs a 2-D numeric matrix of updates") from None
        if matrix.ndim != 2:
            raise ConfigError("aggregation needs at least one update")
        source = MatrixDeltas(matrix)
    n, d = source.shape
    if n == 0 or d == 0:
        raise ConfigError("aggregation needs at least one update")
    return source


def _check(deltas: np.ndarray | Deltas, weights: np.ndarray) -> Deltas:
    source = as_deltas(deltas)
    if weights.shape != (source.shape[0],) or np.any(weights < 0):
        raise ConfigError("one non-negative weight per update is needed")
    return source


def spans(d: int, width: int) -> Iterator[tuple[int, int]]:
    """``(lo, hi)`` column ranges of at most ``width`` covering ``0:d`` in order."""
    for lo in range(0, d, width):
        yield lo, min(d, lo + width)


def _column_width(n: int, d: int) -> int:
    return max(1, min(d, COLUMN_CELLS // max(n, 1)))


def workers() -> int:
    """Threads for block work: the CPUs this process may use, at most ``MAX_WORKERS`` (``LEDGERML_AGG_THREADS``
    overrides). Results are combined in block order, so the bits do not depend on it."""
    asked = os.environ.get("LEDGERML_AGG_THREADS", "")
    if asked.isdigit() and int(asked) > 0:
        return min(int(asked), 64)
    return max(1, min(len(os.sched_getaffinity(0)), MAX_WORKERS))


def _in_order(work: Callable[[tuple[int, int]], T], ranges: list[tuple[int, int]]) -> Iterator[T]:
    """``work`` over column ranges, on a few threads (numpy releases the GIL), results in range order."""
    count = workers()
    if count == 1 or len(ranges) == 1:
        yield from map(work, ranges)
        return
    with ThreadPoolExecutor(count) as pool:
        yield from pool.map(work, ranges)


def _scratch(rows: int, cols: int) -> np.ndarray:
    """A per-thread float64 buffer of at least ``rows x cols`` (large allocations fault pages every time)."""
    buffer: np.ndarray | None = getattr(_SCRATCH, "buffer", None)
    if buffer is None or buffer.shape[0] < rows or buffer.shape[1] < cols:
        buffer = _SCRATCH.buffer = np.empty((rows, cols), dtype=np.float64)
    return buffer[:rows, :cols]


def _by_columns(source: Deltas, rows: list[int] | None, per_block: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Apply a coordinate-wise function to column blocks (of ``rows`` only, if given) and join the results."""
    n, d = source.shape
    out = np.empty(d, dtype=np.float64)

    def work(span: tuple[int, int]) -> np.ndarray:
        block = source.columns(*span)
        return per_block(block if rows is None else np.ascontiguousarray(block[rows]))

    ranges = list(spans(d, _column_width(n, d)))
    for (lo, hi), values in zip(ranges, _in_order(work, ranges), strict=True):
        out[lo:hi] = values
    return out


def row_sq_norms(deltas: np.ndarray | Deltas) -> np.ndarray:
    """Squared L2 norm of each row, summed block by block in the fixed order."""
    source = as_deltas(deltas)
    n, d = source.shape

    def work(span: tuple[int, int]) -> np.ndarray:
        block = source.columns(*span)
        return np.asarray((block * block).sum(axis=1))

    norms = np.zeros(n, dtype=np.float64)
    for partial in _in_order(work, list(spans(d, BLOCK))):
        norms += partial
    return norms


def _block_distances(source: Deltas, span: tuple[int, int]) -> np.ndarray:
    """The upper triangle of one block's contribution to the squared distances."""
    block = source.columns(*span)
    n = block.shape[0]
    partial = np.zeros((n, n), dtype=np.float64)
    for i in range(n - 1):
        diff = _scratch(n - 1 - i, block.shape[1])
        np.subtract(block[i + 1 :], block[i], out=diff)
        np.multiply(diff, diff, out=diff)
        partial[i, i + 1 :] = diff.sum(axis=1)
    return partial


def pairwise_sq_distances(deltas: np.ndarray | Deltas) -> np.ndarray:
    """Squared Euclidean distances between all rows, block by block, each pair once, in O(n * BLOCK) working
    memory per thread (elementwise differences, no BLAS, so the bits are reproducible)."""
    source = as_deltas(deltas)
    n, d = source.shape
    distances = np.zeros((n, n), dtype=np.float64)
    for partial in _in_order(lambda span: _block_distances(source, span), list(spans(d, BLOCK))):
        distances += partial
    upper = np.triu_indices(n, 1)
    distances[upper[1], upper[0]] = distances[upper]
    return distances


def _scales(weights: np.ndarray) -> np.ndarray | None:
    """Each row's share of the weighted mean, or None for the plain mean (all weights zero)."""
    total = float(weights.sum())
    return None if total <= 0 else weights / total


def _weighted_mean(
    source: Deltas, rows: list[int], weights: np.ndarray, factors: np.ndarray | None = None
) -> np.ndarray:
    """Mean of ``rows`` weighted by ``weights`` (plain mean if they sum to zero), each row first multiplied by
    its ``factor`` if given; per coordinate the terms are summed in row order (numpy's axis-0 sum is that
    sequential sum), in column blocks, so each value is read once."""
    scales = _scales(weights[rows])
    chosen = np.asarray(rows)

    def per_block(block: np.ndarray) -> np.ndarray:  # block is a fresh array: scaled in place
        if factors is not None:
            np.multiply(block, factors[chosen][:, None], out=block)
        if scales is not None:
            np.multiply(block, scales[:, None], out=block)
        return np.asarray(block.sum(axis=0))

    total = _by_columns(source, None if len(rows) == source.shape[0] else rows, per_block)
    return total / len(rows) if scales is None else total


def fedavg(deltas: np.ndarray | Deltas, weights: np.ndarray) -> AggregationResult:
    """Mean weighted by example counts (McMahan et al. 2017)."""
    source = _check(deltas, weights)
    rows = list(range(source.shape[0]))
    return AggregationResult(_weighted_mean(source, rows, weights), tuple(rows))


def median(deltas: np.ndarray | Deltas, weights: np.ndarray) -> AggregationResult:
    """Coordinate-wise median (unweighted)."""
    source = _check(deltas, weights)
    return AggregationResult(
        _by_columns(source, None, lambda block: np.median(block, axis=0)), tuple(range(source.shape[0]))
    )


def trimmed_mean(deltas: np.ndarray | Deltas, weights: np.ndarray, beta: float = 0.2) -> AggregationResult:
    """Coordinate-wise mean after dropping the ``floor(beta * n)`` largest and smallest values."""
    source = _check(deltas, weights)
    if not 0 <= beta < 0.5:
        raise ConfigError("trimmed_mean needs 0 <= beta < 0.5")
    n = source.shape[0]
    k = int(np.floor(beta * n))

    def per_block(block: np.ndarray) -> np.ndarray:
        return np.asarray(np.sort(block, axis=0, kind="stable")[k : n - k].mean(axis=0))

    return AggregationResult(_by_columns(source, None, per_block), tuple(range(n)), info={"trimmed_per_side": float(k)})


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


def _multi_krum_select(source: Deltas, f: int, m: int) -> list[int]:
    """The ``m`` rows with the lowest Krum scores, scored once on the full set (as Flower's
    ``select_multikrum`` does; re-scoring a shrinking set degenerates once fewer than ``2f + 3`` remain)."""
    scores = krum_scores(pairwise_sq_distances(source), f) if source.shape[0] > 1 else np.zeros(1)
    return [int(i) for i in np.argsort(scores, kind="stable")[:m]]


def krum(deltas: np.ndarray | Deltas, weights: np.ndarray, f: int | None = None) -> AggregationResult:
    """The single update with the lowest Krum score."""
    source = _check(deltas, weights)
    n = source.shape[0]
    f = _effective_f(n, f, 2)
    winner = _multi_krum_select(source, f, 1)[0]
    rejected = {i: "not selected by krum" for i in range(n) if i != winner}
    return AggregationResult(np.array(source.row(winner), dtype=np.float64), (winner,), rejected, {"f": float(f)})


def multi_krum(
    deltas: np.ndarray | Deltas, weights: np.ndarray, f: int | None = None, m: int | None = None
) -> AggregationResult:
    """Weighted mean of the ``m`` updates chosen by repeated Krum (default ``m = n - f``)."""
    source = _check(deltas, weights)
    n = source.shape[0]
    f = _effective_f(n, f, 2)
    m = n - f if m is None else max(1, min(int(m), n))
    chosen = sorted(_multi_krum_select(source, f, m))
    rejected = {i: "not selected by multi_krum" for i in range(n) if i not in chosen}
    return AggregationResult(
        _weighted_mean(source, chosen, weights), tuple(chosen), rejected, {"f": float(f), "m": float(m)}
    )


def _bulyan_block(selected: np.ndarray, beta: int) -> np.ndarray:
    """Per coordinate, the mean of the ``beta`` values closest to the median (ties by row order)."""
    centre = np.median(selected, axis=0)
    order = np.argsort(np.abs(selected - centre), axis=0, kind="stable")[:beta]
    return np.asarray(np.take_along_axis(selected, order, axis=0).mean(axis=0))


def bulyan(deltas: np.ndarray | Deltas, weights: np.ndarray, f: int | None = None) -> AggregationResult:
    """Bulyan: choose ``n - 2f`` updates by Multi-Krum, then per coordinate average the ``n - 4f`` values
    closest to the coordinate's median among them (``f`` clamped so that ``n >= 4f + 3``)."""
    source = _check(deltas, weights)
    n = source.shape[0]
    f = _effective_f(n, f, 4)
    theta = n - 2 * f
    chosen = sorted(_multi_krum_select(source, f, theta))
    beta = theta - 2 * f
    delta = _by_columns(source, chosen, lambda block: _bulyan_block(block, beta))
    rejected = {i: "not selected by bulyan" for i in range(n) if i not in chosen}
    return AggregationResult(delta, tuple(chosen), rejected, {"f": float(f), "beta": float(beta)})


def norm_clipped_mean(deltas: np.ndarray | Deltas, weights: np.ndarray, clip: float = 1.0) -> AggregationResult:
    """Weighted mean after scaling every delta down to L2 norm at most ``clip`` (Sun et al. 2019)."""
    source = _check(deltas, weights)
    if clip <= 0:
        raise ConfigError("norm_clipped_mean needs clip > 0")
    norms = np.sqrt(row_sq_norms(source))
    scale = np.minimum(1.0, clip / np.maximum(norms, 1e-300))
    rows = list(range(source.shape[0]))
    return AggregationResult(
        _weighted_mean(source, rows, weights, scale), tuple(rows), info={"clipped": float((scale < 1).sum())}
    )


RULES: dict[str, Callable[..., AggregationResult]] = {
    "fedavg": fedavg,
    "median": median,
    "trimmed_mean": trimmed_mean,
    "krum": krum,
    "multi_krum": multi_krum,
    "bulyan": bulyan,
    "norm_clipped_mean": norm_clipped_mean,
}
_PARAMS = {
    "trimmed_mean": {"beta"},
    "krum": {"f"},
    "multi_krum": {"f", "m"},
    "bulyan": {"f"},
    "norm_clipped_mean": {"clip"},
}


MAX_F = 1000
"""Largest ``f`` (attackers tolerated) or ``m`` a rule accepts."""


def _param_problem(name: str, value: Any, participants: int | None) -> str | None:
    """Why a rule parameter's value is out of range, or None."""
    number = type(value) in (int, float) and math.isfinite(value)
    if name == "beta":
        return None if number and 0 <= value < 0.5 else "must be a number in [0, 0.5)"
    if name == "clip":
        return None if number and 0 < value <= 1e6 else "must be a number in (0, 1e6]"
    high = MAX_F if participants is None else participants
    low = 1 if name == "m" else 0
    if type(value) is not int or not low <= value <= high:
        return f"must be an integer from {low} to {high}"
    return None


def check_rule(rule: str, params: dict[str, Any], *, participants: int | None = None) -> None:
    """Raise ``ConfigError`` for an unknown rule, an unknown parameter or a value out of range."""
    if not isinstance(rule, str) or rule not in RULES:
        raise ConfigError(f"unknown aggregation rule {rule!r}; known: {sorted(RULES)}")
    if not isinstance(params, dict):
        raise ConfigError(f"{rule} parameters must be a table")
    unknown = set(params) - _PARAMS.get(rule, set())
    if unknown:
        raise ConfigError(f"{rule} takes no parameter(s) {sorted(unknown)}; it takes {sorted(_PARAMS.get(rule, []))}")
    for name, value in sorted(params.items()):
        problem = _param_problem(name, value, participants)
        if problem:
            raise ConfigError(f"setting 'rule_params.{name}' of {rule} {problem}, got {value!r}"[:300])


def aggregate(
    rule: str, deltas: np.ndarray | Deltas, weights: np.ndarray, params: dict[str, Any] | None = None
) -> AggregationResult:
    """Run rule ``rule`` with ``params`` on a float matrix (float32 is widened exactly, block by block) or any
    ``Deltas`` source; the bits are the same either way."""
    params = params or {}
    check_rule(rule, params)
    return RULES[rule](as_deltas(deltas), np.asarray(weights, dtype=np.float64), **params)
