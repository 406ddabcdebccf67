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
    mean_arrival_ms: float = math.nan
    """The mean arrival time of the pending events (NaN: taken as midway between the oldest and the last)."""

    @property
    def mean_ms(self) -> float:
        """``mean_arrival_ms``, or midway between the oldest and the last arrival when not given."""
        if math.isnan(self.mean_arrival_ms):
            return (self.oldest_ms + self.last_arrival_ms) / 2.0
        return self.mean_arrival_ms


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


def fold_gap(weights: np.ndarray, gap_ms: float, memory: float) -> np.ndarray:
    """``weights`` decayed by ``1 - 1/memory`` with one gap of ``gap_ms`` added to its bin (in place)."""
    weights *= 1.0 - 1.0 / memory
    index = int(np.searchsorted(EDGES_MS, gap_ms, side="right")) - 1
    weights[min(max(index, 0), len(weights) - 1)] += 1.0
    return weights


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
        self.weights_ = fold_gap(self.weights_, gap_ms, self.memory)
        self.waits_ = residual_waits(self.weights_)

    def seal_after(self, count: int) -> float:
        """The smallest elapsed time since the last arrival at which ``count`` pending events are worth a block."""
        worth = count * self.waits_ >= self.block_cost
        return float(EDGES_MS[int(np.argmax(worth))]) if worth.any() else math.inf

    def deadline(self, pending: Pending) -> float:
        """``min(last arrival + seal_after(count), oldest + max wait)``."""
        return min(pending.last_arrival_ms + self.seal_after(pending.count), pending.oldest_ms + self.max_wait_ms)


def stopping_rates(weights: np.ndarray) -> np.ndarray:
    """For every silence ``e = EDGES_MS[j]``: ``max over horizons h > e`` of ``P(next gap <= h | gap > e)`` divided
    by ``E[min(gap, h) - e | gap > e]`` (per ms), under the binned gap distribution ``weights`` (bin midpoints).

    Waiting on up to ``h`` with ``n`` pending events costs ``n x`` the expected wait and saves a block (cost ``c``)
    if an event arrives in time, so waiting is worth it for some horizon exactly while ``n < c x rate``; zero where
    no mass lies beyond ``e`` (nothing will arrive: seal)."""
    mass = np.cumsum(weights[::-1])[::-1]  # M_j: mass at or beyond bin j
    moment = np.cumsum((weights * MIDS_MS)[::-1])[::-1]
    edges, beyond = EDGES_MS[:-1], np.append(mass, 0.0)[1:]  # e_j and M_{j+1}
    j, k = np.arange(len(weights))[:, None], np.arange(len(weights))[None, :]  # horizon h = EDGES_MS[k + 1]
    inside = mass[j] - beyond[k]  # mass of bins j..k
    moment_in = moment[j] - np.append(moment, 0.0)[1:][k]
    waits = moment_in - edges[j] * inside + beyond[k] * (EDGES_MS[1:][k] - edges[j])
    with np.errstate(divide="ignore", invalid="ignore"):
        rates = np.where((k >= j) & (waits > 0), inside / waits, 0.0)
    return np.asarray(rates.max(axis=1))


def rent_deadline(count: int, mean_arrival_ms: float, block_cost: float) -> float:
    """When the waiting already spent by ``count`` pending events (mean arrival ``mean_arrival_ms``) reaches
    ``block_cost`` event-ms: ``mean + cost / count`` (infinity for none)."""
    return mean_arrival_ms + block_cost / count if count > 0 else math.inf


@dataclass
class BurstPolicy:
    """Learned burst cutting: seal when waiting on is no longer worth a block, ``count >= block_cost x
    stopping_rates(e)`` (the end of a burst, from the learned gap distribution), or when the pending events have
    together waited ``block_cost`` event-ms already (``rent_deadline``: cuts a long burst into pieces of about
    ``sqrt(2 cost / rate)`` ms, the optimum of waiting + cost x blocks), plus ``block_size`` and ``max_wait_ms``."""

    block_size: int = 1000
    block_cost: float = 3000.0
    max_wait_ms: float = 2000.0
    memory: float = 1000.0
    name: str = "burst"
    weights_: np.ndarray = field(default_factory=lambda: np.full(len(MIDS_MS), 1e-6), repr=False)
    rates_: np.ndarray = field(default_factory=lambda: stopping_rates(np.full(len(MIDS_MS), 1e-6)), repr=False)

    def observe(self, gap_ms: float) -> None:
        """Fold one inter-arrival gap into the decayed histogram."""
        self.weights_ = fold_gap(self.weights_, gap_ms, self.memory)
        self.rates_ = stopping_rates(self.weights_)

    def seal_after(self, count: int) -> float:
        """The smallest silence after which ``count`` pending events are not worth waiting on."""
        done = count >= self.block_cost * self.rates_
        return float(EDGES_MS[int(np.argmax(done))]) if done.any() else math.inf

    def deadline(self, pending: Pending) -> float:
        """``min(last arrival + seal_after(count), rent_deadline, oldest + max wait)``."""
        return min(
            pending.last_arrival_ms + self.seal_after(pending.count),
            rent_deadline(pending.count, pending.mean_ms, self.block_cost),
            pending.oldest_ms + self.max_wait_ms,
        )


Policy = FixedPolicy | IdleGapPolicy | LearnedPolicy | BurstPolicy


def percentile(values: list[float], q: float) -> float:
    """The ``q`` percentile (0..100), linear interpolation; NaN for no values."""
    return float(np.percentile(values, q)) if values else math.nan
