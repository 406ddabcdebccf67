"""Tiny generated block traces for the chain-monitor tests (no real data needed)."""

from __future__ import annotations

import numpy as np

from ledgerml.analytics.chainwatch.activity import Activity
from ledgerml.analytics.chainwatch.inject import AttackWindow, Blocks, synthesize

TIPS = np.array([0.0, 0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 0.2, 0.3, 0.02])


def tiny_blocks(n: int = 120, seed: int = 0) -> Blocks:
    """``n`` blocks: about 80 transactions each, gas used around half the limit."""
    rng = np.random.default_rng(seed)
    limit = np.full(n, 30_000_000)
    used = (limit * np.clip(rng.normal(0.5, 0.1, n), 0.05, 0.95)).astype(np.int64)
    counts = rng.poisson(80, n)
    return Blocks(np.arange(1000, 1000 + n), 1_700_000_000 + 12 * np.arange(n), used, limit, counts)


def trace(kind: str | None, first: int = 70, last: int = 79, n: int = 120, seed: int = 0) -> tuple[Activity, list]:
    """A tiny trace with one attack window of ``kind`` (none when None)."""
    windows = [] if kind is None else [AttackWindow(kind, first, last)]
    return synthesize(tiny_blocks(n, seed), windows, TIPS, seed), windows


def write_folder(activity: Activity, folder, *, transactions: bool = True):  # type: ignore[no-untyped-def]
    """``blocks.csv`` and ``transactions.csv`` of ``activity`` in ``folder`` (account ids as addresses)."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["number,timestamp,gas_used,gas_limit,transactions"]
    counts = activity.transactions_per_block().astype(int)
    for i in range(activity.blocks):
        row = (activity.number[i], activity.timestamp[i], activity.gas_used[i], activity.gas_limit[i], counts[i])
        lines.append(",".join(str(v) for v in row))
    (folder / "blocks.csv").write_text("\n".join(lines) + "\n")
    if transactions:
        rows = ["block_number,from,to,gas_price,status"]
        for b, s, r, p, f in zip(
            activity.tx_block,
            activity.tx_sender,
            activity.tx_recipient,
            activity.tx_gas_price,
            activity.tx_failed,
            strict=True,
        ):
            rows.append(f"{b},0x{s:040x},0x{r:040x},{float(p)!r},{0 if f else 1}")
        (folder / "transactions.csv").write_text("\n".join(rows) + "\n")
    return folder
