"""The stated network of the QBFT simulation: validators spread round-robin over four cloud regions, one-way
delays from a fixed matrix (ms, roughly public inter-region round-trip times halved), times a log-normal jitter."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

REGIONS = ("eu-west", "us-east", "us-west", "ap-southeast")
ONE_WAY_MS = (
    (1.0, 40.0, 70.0, 85.0),
    (40.0, 1.0, 35.0, 110.0),
    (70.0, 35.0, 1.0, 85.0),
    (85.0, 110.0, 85.0, 1.0),
)


@dataclass(frozen=True)
class LatencyModel:
    """One-way delay ``matrix[region(i)][region(j)] * exp(N(0, jitter))``; validator ``i`` is in region
    ``i % len(matrix)``."""

    matrix: tuple[tuple[float, ...], ...] = ONE_WAY_MS
    jitter: float = 0.25

    def delay(self, sender: int, target: int, rng: random.Random) -> float:
        """A sampled one-way delay in ms."""
        regions = len(self.matrix)
        base = self.matrix[sender % regions][target % regions]
        return base * math.exp(rng.gauss(0.0, self.jitter))
