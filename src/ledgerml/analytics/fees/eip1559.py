"""Block-level base fees: the exact EIP-1559 update rule, a k-blocks-ahead forecast by simulating gas use from a
block bootstrap of recent utilisation, and a fee recommendation with its probability of inclusion.

"A max fee of X is included within k blocks with probability p" means: in ``p`` of the simulated futures the
base fee of at least one of the next ``k`` blocks is at most X (priority-fee competition is not modelled).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import ConfigError

if TYPE_CHECKING:
    from .feehistory import FeeHistory

ELASTICITY = 2
DENOMINATOR = 8


def next_base_fee(base_fee: int, gas_used: int, gas_limit: int) -> int:
    """The base fee of the child block (EIP-1559, integer arithmetic as in the specification)."""
    target = gas_limit // ELASTICITY
    if target <= 0:
        raise ConfigError(f"gas limit {gas_limit} is too small for EIP-1559")
    if gas_used == target:
        return base_fee
    if gas_used > target:
        return base_fee + max(base_fee * (gas_used - target) // target // DENOMINATOR, 1)
    return base_fee - base_fee * (target - gas_used) // target // DENOMINATOR


def simulate_paths(
    base_fee: float, utilisation: np.ndarray, rng: np.random.Generator, *, horizon: int, paths: int, block: int
) -> np.ndarray:
    """``paths x horizon`` base fees of the blocks after the next one, from a stationary block bootstrap of
    ``utilisation`` (gas used / gas limit); float arithmetic (the integer rule differs by under 1 wei per step)."""
    n = len(utilisation)
    starts = rng.integers(0, n, size=(paths, horizon))
    offsets = np.zeros((paths, horizon), dtype=np.int64)
    renew = rng.random((paths, horizon)) < 1.0 / block
    for step in range(1, horizon):
        offsets[:, step] = np.where(renew[:, step], 0, offsets[:, step - 1] + 1)
        starts[:, step] = np.where(renew[:, step], starts[:, step], starts[:, step - 1])
    drawn = utilisation[(starts + offsets) % n]
    factors = 1.0 + (drawn * ELASTICITY - 1.0) / DENOMINATOR
    return np.asarray(base_fee * np.cumprod(factors, axis=1))


@dataclass(frozen=True)
class BlockSeries:
    """Consecutive blocks: numbers, gas used, gas limits, base fees in wei (``reconstructed``: computed by the
    rule from an assumed first value because the source had none); ``fees``: the node's ``eth_feeHistory`` for
    the same blocks (priority-fee percentiles and the next block's base fee), when read from a node."""

    numbers: np.ndarray
    gas_used: np.ndarray
    gas_limit: np.ndarray
    base_fee: np.ndarray
    reconstructed: bool = False
    fees: FeeHistory | None = None

    def __len__(self) -> int:
        return len(self.numbers)

    def upto(self, stop: int) -> BlockSeries:
        """The first ``stop`` blocks."""
        return BlockSeries(
            self.numbers[:stop], self.gas_used[:stop], self.gas_limit[:stop], self.base_fee[:stop], self.reconstructed
        )


@dataclass
class BaseFeeForecaster:
    """``fit(blocks)`` then ``predict(k)``: the base fee of each of the next ``k`` blocks as simulated paths;
    ``inclusion_probability`` and ``recommend`` answer the fee question."""

    window: int = 256
    paths: int = 4000
    block: int = 8
    seed: int = 0
    next_fee_: int | None = field(default=None, init=False)
    utilisation_: np.ndarray | None = field(default=None, init=False, repr=False)
    last_: int | None = field(default=None, init=False)

    def fit(self, blocks: BlockSeries) -> BaseFeeForecaster:
        """Learn recent utilisation; the next block's base fee is exact from the last block."""
        if len(blocks) < 16:
            raise ConfigError(f"need at least 16 blocks, got {len(blocks)}")
        recent = slice(max(0, len(blocks) - self.window), len(blocks))
        self.utilisation_ = blocks.gas_used[recent] / blocks.gas_limit[recent]
        self.next_fee_ = (
            next_base_fee(int(blocks.base_fee[-1]), int(blocks.gas_used[-1]), int(blocks.gas_limit[-1]))
            if blocks.fees is None
            else blocks.fees.next_base_fee
        )
        self.last_ = int(blocks.numbers[-1])
        return self

    def predict(self, k: int) -> np.ndarray:
        """``paths x k`` simulated base fees (wei) of blocks last+1 .. last+k (the first column is exact)."""
        if self.next_fee_ is None or self.utilisation_ is None:
            raise ConfigError("fit the forecaster before predict")
        if not 1 <= k <= 1024:
            raise ConfigError(f"k must be 1..1024, got {k}")
        rng = np.random.default_rng(self.seed)
        later = (
            simulate_paths(
                float(self.next_fee_), self.utilisation_, rng, horizon=k - 1, paths=self.paths, block=self.block
            )
            if k > 1
            else np.empty((self.paths, 0))
        )
        return np.column_stack([np.full(self.paths, float(self.next_fee_)), later])

    def inclusion_probability(self, max_fee: float, k: int) -> float:
        """P(some block of the next ``k`` has a base fee <= ``max_fee``)."""
        return float(np.mean(self.predict(k).min(axis=1) <= max_fee))

    def recommend(self, k: int, probability: float) -> float:
        """The smallest max fee (wei) included within ``k`` blocks with at least ``probability``."""
        if not 0.0 < probability < 1.0:
            raise ConfigError(f"probability must be between 0 and 1, got {probability}")
        return float(np.quantile(self.predict(k).min(axis=1), probability, method="higher"))

    def outlook(self, k: int, probability: float) -> dict[str, Any]:
        """Base fee of block last+k (p10/p50/p90, gwei) and the max fee included within ``k`` blocks."""
        fees = self.predict(k)
        fee = self.recommend(k, probability)
        p10, p50, p90 = (float(v) / 1e9 for v in np.percentile(fees[:, -1], [10, 50, 90]))
        chance = float(np.mean(fees.min(axis=1) <= fee))
        return {
            "k": k,
            "base_fee_gwei": {"p10": p10, "p50": p50, "p90": p90},
            "max_fee_gwei": fee / 1e9,
            "probability": chance,
        }


QUANTILES = (0.05, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95)


@dataclass(frozen=True)
class ReliabilityBin:
    """Recommendations whose promised probability fell in one bin: mean promise, observed inclusion, count."""

    promised: float
    observed: float
    count: int


def reliability(
    blocks: BlockSeries,
    k: int,
    *,
    start: int = 64,
    every: int = 1,
    bins: int = 10,
    forecaster: BaseFeeForecaster | None = None,
) -> list[ReliabilityBin]:
    """Reliability curve of inclusion within ``k`` blocks: at each origin (fitted on blocks up to it only), max
    fees at ``QUANTILES`` of the simulated minima, each with its promised probability; binned promise vs outcome."""
    model = forecaster or BaseFeeForecaster()
    promised, included = [], []
    for origin in range(start, len(blocks) - k, every):
        model.fit(blocks.upto(origin + 1))
        minima = model.predict(k).min(axis=1)
        actual = float(blocks.base_fee[origin + 1 : origin + 1 + k].min())
        for fee in np.quantile(minima, QUANTILES, method="higher"):
            promised.append(float(np.mean(minima <= fee)))
            included.append(actual <= float(fee))
    if not promised:
        raise ConfigError(f"need more than {start + k} blocks for a reliability curve")
    p, hit = np.array(promised), np.array(included, dtype=float)
    which = np.minimum((p * bins).astype(int), bins - 1)
    return [
        ReliabilityBin(float(p[which == b].mean()), float(hit[which == b].mean()), int((which == b).sum()))
        for b in range(bins)
        if np.any(which == b)
    ]
