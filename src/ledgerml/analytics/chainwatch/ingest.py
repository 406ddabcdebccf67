"""Chain activity from a folder (``blocks.csv`` and optionally ``transactions.csv``) or from any EVM node over
JSON-RPC through the analytics ingestion (``analytics.rpc``'s block iterator; receipts for failed transactions)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..._csv import csv_records
from ..._files import read_bounded
from ...errors import ConfigError, LedgerMLError
from .activity import AccountIds, Activity

MAX_FILE_BYTES = 256 << 20
MAX_RPC_BLOCKS = 10_000
"""Most blocks one ``--rpc`` run reads."""
BLOCK_NUMBER = ("number", "block_number", "block")
TX_COUNT = ("transactions", "tx_count")
Progress = Callable[[int, int], None]


def _rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The header and rows of a CSV file; ``ConfigError`` for a missing, unreadable or non-UTF-8 file."""
    try:
        text = read_bounded(path, MAX_FILE_BYTES, what=str(path), error=ConfigError, unreadable=ConfigError).decode(
            "utf-8-sig"
        )
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text") from None
    return csv_records(text, str(path))


def _column(header: list[str], names: tuple[str, ...], path: Path, required: bool = True) -> str | None:
    for name in names:
        if name in header:
            return name
    if required:
        raise ConfigError(f"{path} has no column {' or '.join(names)}")
    return None


def _number(value: str | None, what: str, path: Path, line: int, kind: type = int) -> Any:
    if value is None or value.strip() == "":
        raise ConfigError(f"{path} line {line}: {what} is empty")
    try:
        number = kind(value)
    except ValueError:
        raise ConfigError(f"{path} line {line}: {what} {value!r} is not a number") from None
    if kind is float and not np.isfinite(number):
        raise ConfigError(f"{path} line {line}: {what} {value!r} is not finite")
    return number


def _blocks(path: Path) -> dict[str, np.ndarray]:
    header, rows = _rows(path)
    if not rows:
        raise ConfigError(f"{path} has no blocks")
    number = _column(header, BLOCK_NUMBER, path)
    for needed in ("gas_used", "gas_limit"):
        _column(header, (needed,), path)
    counts = _column(header, TX_COUNT, path, required=False)
    fee = "base_fee_per_gas" if "base_fee_per_gas" in header else None
    out: dict[str, list[Any]] = {
        "number": [],
        "timestamp": [],
        "gas_used": [],
        "gas_limit": [],
        "base_fee": [],
        "tx_count": [],
    }
    for line, row in enumerate(rows, start=2):
        out["number"].append(_number(row.get(str(number)), "number", path, line))
        out["timestamp"].append(_number(row.get("timestamp") or "0", "timestamp", path, line))
        out["gas_used"].append(_number(row.get("gas_used"), "gas_used", path, line))
        out["gas_limit"].append(_number(row.get("gas_limit"), "gas_limit", path, line))
        raw_fee = row.get(fee) if fee else None
        out["base_fee"].append(np.nan if not raw_fee else _number(raw_fee, "base_fee_per_gas", path, line, float))
        out["tx_count"].append(_number(row.get(counts), "transactions", path, line) if counts else 0)
    return {k: np.asarray(v, dtype=np.float64 if k == "base_fee" else np.int64) for k, v in out.items()} | {
        "has_counts": np.asarray(counts is not None)
    }


def _failed(value: str | None) -> bool:
    text = (value or "").strip().lower()
    return text in ("0", "false", "failed", "reverted")


def read_folder(folder: Path) -> tuple[Activity, list[str]]:
    """``blocks.csv`` (number or block_number, gas_used, gas_limit; optional timestamp, transactions or
    tx_count, base_fee_per_gas in wei) and optional ``transactions.csv`` (block_number or block, from, to,
    gas_price in gwei; optional status, 0 = reverted). Returns the activity and notes (rows left out)."""
    if not folder.is_dir():
        raise ConfigError(f"--data {folder} is not a folder")
    blocks = _blocks(folder / "blocks.csv")
    order = np.argsort(blocks["number"], kind="stable")
    b = {k: v[order] if v.ndim else v for k, v in blocks.items()}
    ids, notes = AccountIds(), []
    tx: dict[str, list[Any]] = {"block": [], "sender": [], "recipient": [], "gas_price": [], "failed": []}
    path = folder / "transactions.csv"
    if path.exists():
        header, rows = _rows(path)
        block_col = _column(header, ("block_number", "block"), path)
        for needed in ("from", "to", "gas_price"):
            _column(header, (needed,), path)
        first, last, outside = int(b["number"][0]), int(b["number"][-1]), 0
        for line, row in enumerate(rows, start=2):
            number = _number(row.get(str(block_col)), "block_number", path, line)
            if not first <= number <= last:
                outside += 1
                continue
            tx["block"].append(number)
            tx["sender"].append(ids(row.get("from") or ""))
            tx["recipient"].append(ids(row.get("to") or ""))
            tx["gas_price"].append(_number(row.get("gas_price"), "gas_price", path, line, float))
            tx["failed"].append(_failed(row.get("status")) if "status" in header else False)
        if outside:
            notes.append(f"{outside} transaction(s) of transactions.csv are outside blocks {first}..{last}: left out")
    return _activity(b, tx, ids), notes


def _activity(b: dict[str, np.ndarray], tx: dict[str, list[Any]], ids: AccountIds) -> Activity:
    return Activity(
        number=b["number"],
        timestamp=b["timestamp"],
        gas_used=b["gas_used"],
        gas_limit=b["gas_limit"],
        base_fee=b["base_fee"],
        tx_block=np.asarray(tx["block"], dtype=np.int64),
        tx_sender=np.asarray(tx["sender"], dtype=np.int64),
        tx_recipient=np.asarray(tx["recipient"], dtype=np.int64),
        tx_gas_price=np.asarray(tx["gas_price"], dtype=np.float64),
        tx_failed=np.asarray(tx["failed"], dtype=bool),
        accounts=ids.addresses,
        tx_counts=b["tx_count"] if bool(b.get("has_counts", False)) else None,
    )


def _receipt_status(rpc: Any, number: int) -> dict[str, bool] | None:
    """Transaction hash -> reverted, from ``eth_getBlockReceipts`` (None when the node lacks the method)."""
    from ..rpc import call_with_retries

    try:
        receipts = call_with_retries(rpc, "eth_getBlockReceipts", [hex(number)], retries=0)
    except LedgerMLError:
        return None
    return {r["transactionHash"]: int(r.get("status", "0x1"), 16) == 0 for r in receipts or []}


DEFAULT_BLOCKS = 100
"""Blocks read when no ``from_block`` is given: the latest ones."""


def fetch_activity(
    url: str, from_block: int | None = None, to_block: int | None = None, *, progress: Progress | None = None
) -> tuple[Activity, list[str]]:
    """Blocks ``from_block..to_block`` (default: the latest ``DEFAULT_BLOCKS``) with their transactions and the
    status of their receipts."""
    from ..._jsonrpc import JsonRpc
    from ..rpc import iter_blocks, latest_block

    rpc = JsonRpc(url)
    last = latest_block(rpc) if to_block is None else to_block
    if from_block is None:
        from_block = max(0, last - DEFAULT_BLOCKS + 1)
    if from_block < 0 or last < from_block:
        raise ConfigError(f"block range {from_block}..{last} is empty or negative")
    if last - from_block + 1 > MAX_RPC_BLOCKS:
        raise ConfigError(f"block range {from_block}..{last} is more than {MAX_RPC_BLOCKS:,} blocks")
    cols: dict[str, list[Any]] = {
        "number": [],
        "timestamp": [],
        "gas_used": [],
        "gas_limit": [],
        "base_fee": [],
        "tx_count": [],
    }
    tx: dict[str, list[Any]] = {"block": [], "sender": [], "recipient": [], "gas_price": [], "failed": []}
    ids, receipts_known = AccountIds(), True
    try:
        for raw in iter_blocks(rpc, from_block, last, logs=False):
            _add_block(raw, cols, tx, ids)
            status = _receipt_status(rpc, raw.number) if receipts_known else None
            receipts_known = status is not None
            for h in raw.block.get("transactions", []):
                tx["failed"].append(bool(status and status.get(h["hash"], False)))
            if progress is not None:
                progress(raw.number - from_block + 1, last - from_block + 1)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ConfigError(f"the node at {url} sent a block that is not an EVM block") from None
    b = {k: np.asarray(v, dtype=np.float64 if k == "base_fee" else np.int64) for k, v in cols.items()}
    notes = [] if receipts_known else ["the node has no eth_getBlockReceipts: failed transactions are not counted"]
    return _activity(b, tx, ids), notes


def _add_block(raw: Any, cols: dict[str, list[Any]], tx: dict[str, list[Any]], ids: AccountIds) -> None:
    """Append one ``RawBlock``'s columns and transactions (gas prices in gwei)."""
    from ..rpc import block_statistics_row

    stats = block_statistics_row(raw)
    for key in ("number", "timestamp", "gas_used", "gas_limit", "tx_count"):
        cols[key].append(int(stats[key]))
    cols["base_fee"].append(np.nan if stats["base_fee_per_gas"] is None else float(stats["base_fee_per_gas"]))
    for t in raw.block.get("transactions", []):
        price = t.get("gasPrice") or t.get("maxFeePerGas") or "0x0"
        tx["block"].append(raw.number)
        tx["sender"].append(ids(t["from"]))
        tx["recipient"].append(ids(t.get("to") or ""))
        tx["gas_price"].append(int(price, 16) / 1e9)
