"""``eth_feeHistory``: per-block base fees, gas-used ratios and priority-fee (reward) percentiles from any EIP-1559
node, up to ``MAX_BLOCKS_PER_CALL`` blocks per call, and the base fee of the block after the newest one.

It is the right call for the fees themselves: one request gives the node's own base fee of every block and of the
next one, and the percentiles of the priority fees paid in each block (weighted by gas, as the node computes
them), which no block header carries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..._jsonrpc import JsonRpc
from ...errors import ConfigError

MAX_BLOCKS_PER_CALL = 1024
"""The most blocks one ``eth_feeHistory`` call asks for (geth's and anvil's cap)."""
PERCENTILES = (10.0, 50.0, 90.0)


@dataclass(frozen=True)
class FeeHistory:
    """Blocks ``numbers``: base fee (wei), gas used / gas limit, and priority-fee percentiles (wei, one column
    per entry of ``percentiles``); ``next_base_fee`` is the node's base fee of the block after the last."""

    numbers: np.ndarray
    base_fee: np.ndarray
    gas_used_ratio: np.ndarray
    rewards: np.ndarray
    percentiles: tuple[float, ...]
    next_base_fee: int

    def __len__(self) -> int:
        return len(self.numbers)

    def recent_priority_fees(self, blocks: int = 20) -> dict[str, float]:
        """The median over the last ``blocks`` blocks of each reward percentile, in gwei (``p10``, ``p50``, ...)."""
        recent = self.rewards[-blocks:]
        return {f"p{p:g}": float(np.median(recent[:, i])) / 1e9 for i, p in enumerate(self.percentiles)}


def _hex_int(value: Any, what: str) -> int:
    try:
        return int(str(value), 16)
    except ValueError:
        raise ConfigError(f"eth_feeHistory returned {what} {value!r}, not a hex quantity") from None


def _chunk(rpc: JsonRpc, first: int, last: int, percentiles: Sequence[float]) -> dict[str, Any]:
    """One call for blocks ``first..last``, checked for shape."""
    from ..rpc import call_with_retries

    count = last - first + 1
    answer = call_with_retries(rpc, "eth_feeHistory", [hex(count), hex(last), list(percentiles)])
    if not isinstance(answer, dict) or _hex_int(answer.get("oldestBlock"), "oldestBlock") != first:
        raise ConfigError(f"eth_feeHistory did not return blocks {first}..{last} (pruned or pre-London?)")
    fees, ratios = answer.get("baseFeePerGas") or [], answer.get("gasUsedRatio") or []
    rewards = answer.get("reward") or []
    if len(fees) != count + 1 or len(ratios) != count or len(rewards) != count:
        raise ConfigError(f"eth_feeHistory returned {len(ratios)} of the {count} blocks {first}..{last}")
    return answer


def fee_history(
    rpc: JsonRpc, first: int, last: int, percentiles: Sequence[float] = PERCENTILES, *, per_call: int = 0
) -> FeeHistory:
    """Blocks ``first..last`` in calls of at most ``per_call`` blocks (default ``MAX_BLOCKS_PER_CALL``)."""
    step = per_call or MAX_BLOCKS_PER_CALL
    if not 1 <= step <= MAX_BLOCKS_PER_CALL:
        raise ConfigError(f"per_call must be 1..{MAX_BLOCKS_PER_CALL}, got {per_call}")
    if first < 0 or last < first:
        raise ConfigError(f"block range {first}..{last} is empty or negative")
    if list(percentiles) != sorted(percentiles) or any(not 0 <= p <= 100 for p in percentiles):
        raise ConfigError("reward percentiles must be increasing and within 0..100")
    fees: list[int] = []
    ratios: list[float] = []
    rewards: list[list[int]] = []
    following = 0
    for start in range(first, last + 1, step):
        answer = _chunk(rpc, start, min(start + step - 1, last), percentiles)
        block_fees = [_hex_int(v, "a base fee") for v in answer["baseFeePerGas"]]
        fees += block_fees[:-1]
        following = block_fees[-1]
        ratios += [float(r) for r in answer["gasUsedRatio"]]
        rewards += [[_hex_int(v, "a reward") for v in row] for row in answer["reward"]]
    return FeeHistory(
        np.arange(first, last + 1, dtype=np.int64),
        np.array(fees, dtype=np.float64),
        np.array(ratios, dtype=np.float64),
        np.array(rewards, dtype=np.float64).reshape(len(ratios), len(percentiles)),
        tuple(float(p) for p in percentiles),
        following,
    )


def with_priority_fee(outlook: dict[str, Any], history: FeeHistory | None, blocks: int = 20) -> dict[str, Any]:
    """``BaseFeeForecaster.outlook`` plus, when the node's fee history is known, the median priority fee of the
    last ``blocks`` blocks (``priority_fee_gwei``) and the max fee that also pays it (``max_fee_with_tip_gwei``):
    a transaction's tip is ``min(max priority fee, max fee - base fee)``, so the max fee must cover both."""
    if history is None:
        return outlook
    tip = history.recent_priority_fees(blocks)["p50"]
    return {**outlook, "priority_fee_gwei": tip, "max_fee_with_tip_gwei": outlook["max_fee_gwei"] + tip}
