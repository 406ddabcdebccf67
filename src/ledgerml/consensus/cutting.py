"""Block-cutting policies: when the validator of the embedded ledger seals the pending events.

Plain functions and small classes without I/O. A policy sees the pending count, the oldest pending arrival, the
last arrival and the last seal (all in ms), and returns the time at which it would seal if nothing else arrives
(``deadline``); every policy also seals at ``block_size`` pending events.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Pending:
    """What a policy may look at."""

    count: int
    oldest_ms: float
    last_arrival_ms: float
    last_seal_ms: float


@dataclass
class FixedPolicy:
    """The ledger's own rule: seal at ``block_size`` events, or once ``interval_ms`` has passed since the last
    block (checked at every write, and by a timer so the tail of a burst does not wait for the next write)."""

    block_size: int = 1000
    interval_ms: float = 5000.0
    name: str = "fixed"

    def observe(self, gap_ms: float) -> None:
        """Fixed settings learn nothing."""

    def deadline(self, pending: Pending) -> float:
        """``max(last seal + interval, last arrival)``."""
        return max(pending.last_seal_ms + self.interval_ms, pending.last_arrival_ms)


@dataclass
class IdleGapPolicy:
    """The adaptive non-learned rule: seal when no event has arrived for ``idle_gap_ms`` (a burst ended), or
    when the oldest pending event has waited ``max_wait_ms``."""

    block_size: int = 1000
    idle_gap_ms: float = 50.0
    max_wait_ms: float = 2000.0
    name: str = "adaptive"

    def observe(self, gap_ms: float) -> None:
        """The rule has no state."""

    def deadline(self, pending: Pending) -> float:
        """``min(last arrival + idle gap, oldest + max wait)``."""
        return min(pending.last_arrival_ms + self.idle_gap_ms, pending.oldest_ms + self.max_wait_ms)


EDGES_MS = np.concatenate([[0.0], np.logspace(-2, 7, 73)])
"""Bins of the learned gap distribution: 0, then log-spaced from 0.01 ms to about 2.8 hours."""


MIDS_MS = (EDGES_MS[:-1] + EDGES_MS[1:]) / 2.0


def residual_waits(weights: np.ndarray) -> np.ndarray:
    """``E[gap - e | gap > e]`` for every ``e = EDGES_MS[j]`` under the binned distribution ``weights`` (bin
    midpoints); infinity where no mass lies beyond ``e``."""
    mass = np.cumsum(weights[::-1])[::-1]
    moment = np.cumsum((weights * MIDS_MS)[::-1])[::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        waits = np.where(mass > 0, moment / mass - EDGES_MS[:-1], np.inf)
    return np.asarray(waits)


@dataclass
class LearnedPolicy:
    """Seal when the expected extra latency of waiting for the next event, ``pending * E[gap - e | gap > e]``,
    reaches the cost of a block (``block_cost``, in event-milliseconds), with ``e`` the time since the last
    arrival; the gap distribution is learned online (an exponentially decayed histogram, ``memory`` gaps)."""

    block_size: int = 1000
    block_cost: float = 20_000.0
    max_wait_ms: float = 2000.0
    memory: float = 1000.0
    name: str = "learned"
    weights_: np.ndarray = field(default_factory=lambda: np.full(len(MIDS_MS), 1e-6), repr=False)
    waits_: np.ndarray = field(default_factory=lambda: residual_waits(np.full(len(MIDS_MS), 1e-6)), repr=False)

    def observe(self, gap_ms: float) -> None:
        """Fold one inter-arrival gap into the decayed histogram."""
        self.weights_ *= 1.0 - 1.0 / self.memory
        index = int(np.searchsorted(EDGES_MS, gap_ms, side="right")) - 1
        self.weights_[min(max(index, 0), len(self.weights_) - 1)] += 1.0
        self.waits_ = residual_waits(self.weights_)

    def seal_after(self, count: int) -> float:
        """The smallest elapsed time since the last arrival at which ``count`` pending events are worth a block."""
        worth = count * self.waits_ >= self.block_cost
        return float(EDGES_MS[int(np.argmax(worth))]) if worth.any() else math.inf

    def deadline(self, pending: Pending) -> float:
        """``min(last arrival + seal_after(count), oldest + max wait)``."""
        return min(pending.last_arrival_ms + self.seal_after(pending.count), pending.oldest_ms + self.max_wait_ms)


Policy = FixedPolicy | IdleGapPolicy | LearnedPolicy


def percentile(values: list[float], q: float) -> float:
    """The ``q`` percentile (0..100), linear interpolation; NaN for no values."""
    return float(np.percentile(values, q)) if values else math.nan
