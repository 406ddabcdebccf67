"""Round-0 timeout policies of the QBFT simulation: Besu's fixed ``requesttimeoutseconds``, an adaptive
Jacobson/Karels estimator (RFC 6298), and a learned contextual bandit over multipliers of that estimate."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field


@dataclass
class FixedTimeout:
    """Besu: the same ``requesttimeoutseconds`` for every round 0 (doubling per later round)."""

    request_timeout_ms: float = 4000.0
    name: str = "fixed"

    def timeout_ms(self, height: int, suspect: bool) -> float:
        return self.request_timeout_ms

    def observe(self, height: int, suspect: bool, elapsed_ms: float, rounds: int) -> None:
        """Nothing to learn."""


@dataclass
class JacobsonKarels:
    """``SRTT + k * RTTVAR`` of the round-0 decision times (RFC 6298 gains), clamped; heights that needed a
    round change are not samples (Karn's rule)."""

    initial_ms: float = 4000.0
    alpha: float = 0.125
    beta: float = 0.25
    k: float = 4.0
    min_ms: float = 200.0
    max_ms: float = 60_000.0
    name: str = "jacobson-karels"
    srtt: float | None = None
    rttvar: float = 0.0

    def timeout_ms(self, height: int, suspect: bool) -> float:
        if self.srtt is None:
            return self.initial_ms
        return min(self.max_ms, max(self.min_ms, self.srtt + self.k * self.rttvar))

    def observe(self, height: int, suspect: bool, elapsed_ms: float, rounds: int) -> None:
        if rounds:
            return
        if self.srtt is None:
            self.srtt, self.rttvar = elapsed_ms, elapsed_ms / 2.0
            return
        self.rttvar = (1 - self.beta) * self.rttvar + self.beta * abs(self.srtt - elapsed_ms)
        self.srtt = (1 - self.alpha) * self.srtt + self.alpha * elapsed_ms


DEVIATIONS = (1.0, 2.0, 4.0, 8.0)
"""The bandit's arms: how many RTTVARs above SRTT the timeout sits (Jacobson/Karels fixes 4)."""


@dataclass
class BanditTimeout:
    """A contextual bandit (BFTBrain-style, epsilon-greedy with decaying exploration) that picks the timeout
    ``SRTT + k * RTTVAR`` with ``k`` from ``DEVIATIONS``; context: whether this height's round-0 proposer failed
    its last turn. Reward: ``-(decision time) - penalty_ms * round changes``."""

    penalty_ms: float = 1000.0
    epsilon: float = 0.05
    seed: int = 0
    name: str = "learned"
    estimator: JacobsonKarels = field(default_factory=JacobsonKarels)
    totals: dict[tuple[bool, int], float] = field(default_factory=dict)
    counts: dict[tuple[bool, int], int] = field(default_factory=dict)
    chosen: dict[int, int] = field(default_factory=dict)
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self.rng.seed(self.seed)

    def _best(self, suspect: bool) -> int:
        def value(arm: int) -> float:
            count = self.counts.get((suspect, arm), 0)
            return self.totals[(suspect, arm)] / count if count else math.inf

        return max(range(len(DEVIATIONS)), key=value)

    def timeout_ms(self, height: int, suspect: bool) -> float:
        plays = sum(self.counts.get((suspect, a), 0) for a in range(len(DEVIATIONS)))
        explore = self.rng.random() < self.epsilon / math.sqrt(1 + plays / 50)
        arm = self.rng.randrange(len(DEVIATIONS)) if explore else self._best(suspect)
        self.chosen[height] = arm
        estimate = self.estimator
        if estimate.srtt is None:
            return estimate.initial_ms
        return min(estimate.max_ms, max(estimate.min_ms, estimate.srtt + DEVIATIONS[arm] * estimate.rttvar))

    def observe(self, height: int, suspect: bool, elapsed_ms: float, rounds: int) -> None:
        self.estimator.observe(height, suspect, elapsed_ms, rounds)
        arm = self.chosen.pop(height, None)
        if arm is None:
            return
        key = (suspect, arm)
        self.totals[key] = self.totals.get(key, 0.0) - elapsed_ms - self.penalty_ms * rounds
        self.counts[key] = self.counts.get(key, 0) + 1
