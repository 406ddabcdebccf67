"""Blocks for the base-fee forecaster: from a CSV file or from any EVM node over JSON-RPC through the analytics
ingestion (``ledgerml.analytics.rpc``: its block iterator and block-statistics rows)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ..._csv import csv_records
from ..._files import read_bounded
from ...errors import ConfigError
from .eip1559 import BlockSeries, next_base_fee

MAX_BLOCKS_BYTES = 256 << 20
ASSUMED_FIRST_FEE = 10**9
"""The base fee given to the first block when a file has no ``base_fee_per_gas`` column (1 gwei): later fees
follow exactly from the rule, so every relative change, and so calibration, is exact."""


def _series(rows: list[dict[str, int | None]]) -> BlockSeries:
    numbers = np.array([r["number"] for r in rows], dtype=np.int64)
    if len(numbers) < 2 or np.any(np.diff(numbers) != 1):
        raise ConfigError("blocks must be at least 2, consecutive and in order")
    used = np.array([r["gas_used"] for r in rows], dtype=np.int64)
    limit = np.array([r["gas_limit"] for r in rows], dtype=np.int64)
    if np.any(limit <= 0) or np.any(used < 0) or np.any(used > limit):
        raise ConfigError("every block needs 0 <= gas_used <= gas_limit and a positive gas_limit")
    fees = [r.get("base_fee_per_gas") for r in rows]
    if all(f is not None for f in fees):
        return BlockSeries(numbers, used, limit, np.array(fees, dtype=np.float64))
    if any(f is not None for f in fees):
        raise ConfigError("some blocks have a base fee and some do not (pre-London blocks?)")
    fee, rebuilt = ASSUMED_FIRST_FEE, []
    for u, g in zip(used, limit, strict=True):
        rebuilt.append(fee)
        fee = next_base_fee(fee, int(u), int(g))
    return BlockSeries(numbers, used, limit, np.array(rebuilt, dtype=np.float64), reconstructed=True)


def _int(value: str | None, what: str, line: int) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"line {line}: {what} {value!r} is not an integer") from None


def read_blocks_csv(path: Path) -> BlockSeries:
    """``number,gas_used,gas_limit[,base_fee_per_gas]`` rows (other columns ignored), e.g. the shared sample."""
    text = read_bounded(path, MAX_BLOCKS_BYTES).decode("utf-8-sig", errors="replace")
    header, records = csv_records(text, str(path))
    if not {"number", "gas_used", "gas_limit"} <= set(header):
        raise ConfigError(f"{path}: expected columns number, gas_used, gas_limit (and optionally base_fee_per_gas)")
    rows = []
    for line, row in enumerate(records, start=2):
        parsed = {key: _int(row.get(key), key, line) for key in ("number", "gas_used", "gas_limit", "base_fee_per_gas")}
        if parsed["number"] is None or parsed["gas_used"] is None or parsed["gas_limit"] is None:
            raise ConfigError(f"{path} line {line}: number, gas_used and gas_limit are required")
        rows.append(parsed)
    return _series(rows)


def fetch_blocks(url: str, from_block: int, to_block: int | None = None) -> BlockSeries:
    """Blocks ``from_block..to_block`` (default: the latest) from a node: gas used and limit from the block headers
    (``analytics.rpc``), base fees, priority-fee percentiles and the next block's base fee from ``eth_feeHistory``
    (``fees.feehistory``); the two must agree on every base fee."""
    from ..._jsonrpc import JsonRpc
    from ..rpc import block_statistics_row, iter_blocks, latest_block
    from .feehistory import fee_history

    rpc = JsonRpc(url)
    last = latest_block(rpc) if to_block is None else to_block
    if from_block < 0 or last < from_block:
        raise ConfigError(f"block range {from_block}..{last} is empty or negative")
    series = _series([block_statistics_row(raw) for raw in iter_blocks(rpc, from_block, last, logs=False)])
    if series.reconstructed:
        return series  # pre-London blocks: no base fees, so no fee history either
    history = fee_history(rpc, from_block, last)
    if not np.array_equal(history.base_fee, series.base_fee):
        at = int(np.argmax(history.base_fee != series.base_fee))
        raise ConfigError(f"the node's eth_feeHistory and block {from_block + at}'s header disagree on its base fee")
    return dataclasses.replace(series, fees=history)
