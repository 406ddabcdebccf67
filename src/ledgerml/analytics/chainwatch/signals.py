"""Per-block signals of chain activity: gas used, transactions, fees and fee jumps, and the per-account ones
(the busiest sender's share, fan-out, fan-in, senders never seen before, repeated failed transactions)."""

from __future__ import annotations

import numpy as np

from .activity import Activity
from .grouping import distinct_rows

SIGNALS = (
    "gas_ratio",
    "tx_count",
    "fee",
    "fee_jump",
    "top_sender_share",
    "fan_out",
    "fan_in",
    "new_senders",
    "new_fan_in",
    "new_fan_out",
    "repeated_failures",
)
"""Every signal, in column order of ``block_signals``."""
SIGNAL_HELP = {
    "gas_ratio": "gas used / gas limit",
    "tx_count": "transactions in the block",
    "fee": "geometric mean gas price of the block's transactions in gwei (the base fee when it lists none)",
    "fee_jump": "log of this block's fee over the previous block's (fees offset by 0.01 gwei)",
    "top_sender_share": "share of the block's transactions sent by its busiest sender",
    "fan_out": "most distinct recipients one sender reached in the block, over its transactions",
    "fan_in": "most distinct senders that reached one recipient in the block, over its transactions",
    "new_senders": "senders in the block never seen earlier in the stream, over its transactions",
    "new_fan_in": "most never-seen senders that reached one recipient in the block, over its transactions",
    "new_fan_out": "most never-seen recipients one sender reached in the block, over its transactions",
    "repeated_failures": "most failed transactions of one sender in the block",
}


def _per_block_top_count(block: np.ndarray, key: np.ndarray, blocks: int) -> np.ndarray:
    """For each block, the most rows sharing one ``key``."""
    out = np.zeros(blocks, dtype=np.float64)
    if len(block) == 0:
        return out
    order = np.lexsort((key, block))
    b, k = block[order], key[order]
    change = np.ones(len(b), dtype=bool)
    change[1:] = (b[1:] != b[:-1]) | (k[1:] != k[:-1])
    starts = np.nonzero(change)[0]
    counts = np.diff(np.append(starts, len(b))).astype(np.float64)
    np.maximum.at(out, b[starts], counts)
    return out


def _per_block_max(block: np.ndarray, key: np.ndarray, other: np.ndarray, blocks: int) -> np.ndarray:
    """For each block, the most distinct ``other`` values sharing one ``key`` (0 for a block without rows)."""
    if len(block) == 0:
        return np.zeros(blocks, dtype=np.float64)
    first = distinct_rows(block, key, other)
    return _per_block_top_count(block[first], key[first], blocks)


def first_seen(activity: Activity, block: np.ndarray) -> np.ndarray:
    """For every account id, the first block (index) it appears in as sender or recipient (``blocks`` if never)."""
    n = activity.blocks
    size = int(max(activity.tx_sender.max(), activity.tx_recipient.max())) + 1 if len(block) else 0
    seen = np.full(size, n)
    np.minimum.at(seen, activity.tx_sender, block)
    np.minimum.at(seen, activity.tx_recipient, block)
    return seen


def _new_senders(sender: np.ndarray, block: np.ndarray, seen: np.ndarray, blocks: int) -> np.ndarray:
    """Distinct senders first seen in each block (0 for the first block: all are new)."""
    if len(sender) == 0:
        return np.zeros(blocks)
    new = seen[sender] == block
    first = distinct_rows(block[new], sender[new])
    out = np.bincount(block[new][first], minlength=blocks).astype(np.float64)
    out[0] = 0.0
    return out


def _fees(activity: Activity, block: np.ndarray) -> np.ndarray:
    """Geometric mean gas price per block in gwei (prices offset by 0.01 gwei); the base fee where a block lists
    no transactions, then the previous block's."""
    n = activity.blocks
    fee = np.full(n, np.nan)
    if len(block):
        counts = np.bincount(block, minlength=n)
        logs = np.bincount(block, weights=np.log(activity.tx_gas_price + 0.01), minlength=n)
        has = counts > 0
        fee[has] = np.exp(logs[has] / counts[has]) - 0.01
    fee = np.where(np.isnan(fee), activity.base_fee / 1e9, fee)
    for i in np.nonzero(np.isnan(fee))[0]:
        fee[i] = fee[i - 1] if i else 0.0
    return fee


def block_signals(activity: Activity) -> np.ndarray:
    """A ``(blocks, len(SIGNALS))`` array of every signal of every block, computed from that block and (for
    ``new_senders`` and ``fee_jump``) the blocks before it only, so streaming and replay give the same values."""
    n = activity.blocks
    block = activity.tx_block - activity.number[0]
    counts = activity.transactions_per_block()
    fee = _fees(activity, block)
    jump = np.zeros(n)
    jump[1:] = np.log((fee[1:] + 0.01) / (fee[:-1] + 0.01))
    top = _per_block_top_count(block, activity.tx_sender, n)

    def per_tx(values: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.divide(values, counts, out=np.zeros(n), where=counts > 0)
        return out

    share = per_tx(top)
    seen = first_seen(activity, block)
    new = _new_senders(activity.tx_sender, block, seen, n)
    new_sender = seen[activity.tx_sender] == block if len(block) else np.zeros(0, dtype=bool)
    new_recipient = seen[activity.tx_recipient] == block if len(block) else np.zeros(0, dtype=bool)
    failed = activity.tx_failed
    repeated = _per_block_top_count(block[failed], activity.tx_sender[failed], n)
    columns = {
        "gas_ratio": activity.gas_used / activity.gas_limit,
        "tx_count": counts,
        "fee": fee,
        "fee_jump": jump,
        "top_sender_share": share,
        "fan_out": per_tx(_per_block_max(block, activity.tx_sender, activity.tx_recipient, n)),
        "fan_in": per_tx(_per_block_max(block, activity.tx_recipient, activity.tx_sender, n)),
        "new_senders": per_tx(new),
        "new_fan_in": per_tx(
            _per_block_max(block[new_sender], activity.tx_recipient[new_sender], activity.tx_sender[new_sender], n)
        ),
        "new_fan_out": per_tx(
            _per_block_max(
                block[new_recipient], activity.tx_sender[new_recipient], activity.tx_recipient[new_recipient], n
            )
        ),
        "repeated_failures": repeated,
    }
    return np.stack([np.asarray(columns[name], dtype=np.float64) for name in SIGNALS], axis=1)


def monitor_signals(activity: Activity) -> np.ndarray:
    """``block_signals`` and the per-account history signals side by side (columns: ``MONITOR_SIGNALS``)."""
    from .history import history_signals

    return np.concatenate([block_signals(activity), history_signals(activity)], axis=1)
