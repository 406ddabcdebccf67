"""Per-account history signals: how far an account's fan-out (or fan-in) in a block exceeds its own mean over the
blocks before, so a busy account that is always busy is not surprising and a quiet or new one that turns busy is."""

from __future__ import annotations

from collections import deque

import numpy as np

from .activity import Activity
from .grouping import distinct_rows

HISTORY = 50
"""Blocks of an account's own past its mean is taken over (blocks where it is absent count as 0)."""
HISTORY_SIGNALS = ("fan_out_surprise", "fan_in_surprise")


def _distinct_counts(block: np.ndarray, key: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, ...]:
    """(block, key, distinct others) for every (block, key) pair, sorted by block then key."""
    first = distinct_rows(block, key, other)
    b, k = block[first], key[first]
    if len(b) == 0:
        return b, k, np.zeros(0, dtype=np.int64)
    change = np.ones(len(b), dtype=bool)
    change[1:] = (b[1:] != b[:-1]) | (k[1:] != k[:-1])
    starts = np.nonzero(change)[0]
    return b[starts], k[starts], np.diff(np.append(starts, len(b)))


def surprise(
    block: np.ndarray, key: np.ndarray, other: np.ndarray, txs: np.ndarray, history: int = HISTORY
) -> np.ndarray:
    """Per block: the largest Poisson z-score ``(c - e) / sqrt(e + 1)`` of one ``key``'s count ``c`` of distinct
    ``other`` values, where ``e`` is the key's mean share of a block's transactions over the ``history`` blocks
    before (absent blocks count 0) times this block's ``txs``; 0 for a block without rows."""
    blocks = len(txs)
    out = np.zeros(blocks)
    b, k, c = _distinct_counts(block, key, other)
    past: dict[int, deque[tuple[int, float]]] = {}
    sums: dict[int, float] = {}
    starts = np.searchsorted(b, np.arange(blocks + 1))
    for i in range(blocks):
        best, rows = 0.0, range(starts[i], starts[i + 1])
        for j in rows:
            account = int(k[j])
            queue = past.get(account)
            while queue and queue[0][0] < i - history:
                sums[account] -= queue.popleft()[1]
            expected = sums.get(account, 0.0) / history * txs[i]
            best = max(best, (float(c[j]) - expected) / np.sqrt(expected + 1.0))
        for j in rows:
            account = int(k[j])
            past.setdefault(account, deque()).append((i, float(c[j]) / max(txs[i], 1.0)))
            sums[account] = sums.get(account, 0.0) + float(c[j]) / max(txs[i], 1.0)
        out[i] = best
    return out


def history_signals(activity: Activity) -> np.ndarray:
    """A ``(blocks, 2)`` array: ``fan_out_surprise`` and ``fan_in_surprise`` of every block."""
    block = activity.tx_block - activity.number[0]
    txs = activity.transactions_per_block()
    fan_out = surprise(block, activity.tx_sender, activity.tx_recipient, txs)
    fan_in = surprise(block, activity.tx_recipient, activity.tx_sender, txs)
    return np.stack([fan_out, fan_in], axis=1)
