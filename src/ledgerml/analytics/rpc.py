"""Blocks from any EVM node over JSON-RPC: a resumable block iterator (``eth_getBlockByNumber`` with full
transactions, ``eth_getLogs`` for ERC-20 transfers, bounded retries) and plain row extractors (transactions,
token transfers, block statistics). ``fetch_transactions`` keeps the rows fetched so far in a checkpoint CSV and
continues after its last block."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .._jsonrpc import JsonRpc
from ..errors import ConfigError

COLUMNS = ["block", "hash", "from", "to", "value", "timestamp", "gas", "contract_creation", "token"]
BLOCK_COLUMNS = ["number", "timestamp", "gas_used", "gas_limit", "base_fee_per_gas", "tx_count"]
TRANSFER_TOPIC = (
    "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"  # Transfer(address,address,uint256)
)
TOKEN_DECIMALS = 18  # token amounts are reported in units of 10^-18, the common ERC-20 choice
CHECKPOINT_EVERY = 200
"""``fetch_transactions`` writes its checkpoint CSV at every block number divisible by this, and at the end."""
RETRIES = 2
"""How many times a failed JSON-RPC call is tried again (after 0.5 s, 1 s, ...) before its error is raised."""


@dataclass(frozen=True)
class RawBlock:
    """One block as the node returned it, with the ``Transfer`` logs of that block (empty if not asked for)."""

    number: int
    block: dict[str, Any]
    logs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def timestamp(self) -> int:
        """The block's time in seconds."""
        return int(self.block["timestamp"], 16)


def call_with_retries(rpc: JsonRpc, method: str, params: list[Any], *, retries: int = RETRIES) -> Any:
    """``rpc.call`` tried up to ``retries + 1`` times; the last ``ConfigError`` is raised."""
    for attempt in range(retries + 1):
        try:
            return rpc.call(method, params)
        except ConfigError:
            if attempt == retries:
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


def latest_block(rpc: JsonRpc) -> int:
    """The number of the node's latest block."""
    return int(call_with_retries(rpc, "eth_blockNumber", []), 16)


def _transfer_logs(rpc: JsonRpc, first: int, last: int, retries: int) -> dict[int, list[dict[str, Any]]]:
    """``Transfer`` logs of blocks ``first..last`` grouped by block (one block needs no ``blockNumber``)."""
    query = {"fromBlock": hex(first), "toBlock": hex(last), "topics": [TRANSFER_TOPIC]}
    logs = call_with_retries(rpc, "eth_getLogs", [query], retries=retries) or []
    if first == last:
        return {first: list(logs)}
    grouped: dict[int, list[dict[str, Any]]] = {}
    for log in logs:
        grouped.setdefault(int(log["blockNumber"], 16), []).append(log)
    return grouped


def iter_blocks(
    rpc: JsonRpc,
    start: int,
    stop: int,
    *,
    logs: bool = True,
    batch: int = 1,
    retries: int = RETRIES,
) -> Iterator[RawBlock]:
    """Blocks ``start..stop`` (inclusive) in order; resume by calling again from the next unseen number.

    ``logs`` also fetches each block's ERC-20 ``Transfer`` logs, ``batch`` blocks per ``eth_getLogs`` call.
    A block the node does not have is a ``ConfigError``.
    """
    if batch < 1:
        raise ConfigError("batch must be at least 1")
    for first in range(start, stop + 1, batch):
        last = min(first + batch - 1, stop)
        grouped = _transfer_logs(rpc, first, last, retries) if logs else {}
        for number in range(first, last + 1):
            block = call_with_retries(rpc, "eth_getBlockByNumber", [hex(number), True], retries=retries)
            if block is None:
                raise ConfigError(f"the node has no block {number}")
            yield RawBlock(number, block, grouped.get(number, []))


def transaction_rows(raw: RawBlock) -> list[dict[str, Any]]:
    """The block's transactions as ``COLUMNS`` rows (ether values; empty ``token``)."""
    timestamp = raw.timestamp
    return [
        {
            "block": raw.number,
            "hash": tx["hash"],
            "from": tx["from"].lower(),
            "to": (tx.get("to") or "").lower(),
            "value": int(tx["value"], 16) / 1e18,
            "timestamp": timestamp,
            "gas": int(tx["gas"], 16),
            "contract_creation": tx.get("to") is None,
            "token": "",
        }
        for tx in raw.block["transactions"]
    ]


def token_transfer_rows(raw: RawBlock) -> list[dict[str, Any]]:
    """The block's ERC-20 ``Transfer`` logs as ``COLUMNS`` rows, the token contract in ``token``."""
    rows = []
    for log in raw.logs:
        topics = log.get("topics", [])
        if len(topics) != 3 or log.get("removed"):
            continue  # ERC-721 transfers index the token id as a fourth topic; removed logs were reorganised away
        data = log.get("data", "0x") or "0x"
        rows.append(
            {
                "block": raw.number,
                "hash": log["transactionHash"],
                "from": "0x" + topics[1][-40:],
                "to": "0x" + topics[2][-40:],
                "value": int(data, 16) / 10**TOKEN_DECIMALS if data != "0x" else 0.0,
                "timestamp": raw.timestamp,
                "gas": 0,
                "contract_creation": False,
                "token": log["address"].lower(),
            }
        )
    return rows


def block_statistics_row(raw: RawBlock) -> dict[str, Any]:
    """``BLOCK_COLUMNS`` of one block; ``base_fee_per_gas`` is None before London (EIP-1559)."""
    base_fee = raw.block.get("baseFeePerGas")
    return {
        "number": raw.number,
        "timestamp": raw.timestamp,
        "gas_used": int(raw.block["gasUsed"], 16),
        "gas_limit": int(raw.block["gasLimit"], 16),
        "base_fee_per_gas": None if base_fee is None else int(base_fee, 16),
        "tx_count": len(raw.block.get("transactions", [])),
    }


def token_transfers(rpc: JsonRpc, number: int, timestamp: int) -> list[dict[str, Any]]:
    """ERC-20 ``Transfer`` events of one block (``eth_getLogs``), as rows with the token contract in ``token``."""
    logs = _transfer_logs(rpc, number, number, RETRIES)[number]
    return token_transfer_rows(RawBlock(number, {"timestamp": hex(timestamp)}, logs))


def _block_range(rpc: JsonRpc, from_block: int, to_block: int | None) -> int:
    """The last block of the range (default: the latest); ``ConfigError`` for an empty or negative range or one
    that ends past the chain's latest block (the node would fail part way through)."""
    latest = latest_block(rpc)
    last = latest if to_block is None else to_block
    if from_block < 0 or last < from_block:
        raise ConfigError(f"block range {from_block}..{last} is empty or negative")
    if last > latest:
        raise ConfigError(f"block range {from_block}..{last} ends past the chain's latest block {latest}")
    return last


def _read_checkpoint(checkpoint: Path | None, from_block: int) -> tuple[pd.DataFrame, int]:
    """Rows kept by an earlier run and the first block still to fetch."""
    if checkpoint is None or not checkpoint.exists():
        return pd.DataFrame(columns=COLUMNS), from_block
    done = pd.read_csv(checkpoint)
    start = from_block if done.empty else max(from_block, int(done["block"].max()) + 1)
    return done, start


def fetch_transactions(
    url: str,
    from_block: int,
    to_block: int | None = None,
    *,
    checkpoint: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Every transaction and ERC-20 transfer in blocks ``from_block..to_block`` (default: the latest); ether
    transfers have an empty ``token``, token transfers name the token contract."""
    rpc = JsonRpc(url)
    last = _block_range(rpc, from_block, to_block)
    done, start = _read_checkpoint(checkpoint, from_block)
    rows: list[dict[str, Any]] = []
    total = last - from_block + 1
    for raw in iter_blocks(rpc, start, last):
        rows += transaction_rows(raw) + token_transfer_rows(raw)
        if checkpoint is not None and (raw.number % CHECKPOINT_EVERY == 0 or raw.number == last):
            _joined(done, rows).to_csv(checkpoint, index=False)
        if progress is not None:
            progress(raw.number - from_block + 1, total)
    frame = _joined(done, rows)
    return frame[(frame["block"] >= from_block) & (frame["block"] <= last)].reset_index(drop=True)


def _joined(done: pd.DataFrame, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The checkpoint's rows and the new ones (an empty side is left out: no dtype guessing from it)."""
    new = pd.DataFrame(rows, columns=COLUMNS)
    parts = [part for part in (done, new) if not part.empty]
    return pd.concat(parts, ignore_index=True) if parts else new


def fetch_block_statistics(
    url: str, from_block: int, to_block: int | None = None, *, retries: int = RETRIES
) -> pd.DataFrame:
    """``BLOCK_COLUMNS`` for blocks ``from_block..to_block`` (default: the latest), one row a block."""
    rpc = JsonRpc(url)
    last = _block_range(rpc, from_block, to_block)
    rows = [block_statistics_row(raw) for raw in iter_blocks(rpc, from_block, last, logs=False, retries=retries)]
    return pd.DataFrame(rows, columns=BLOCK_COLUMNS)
