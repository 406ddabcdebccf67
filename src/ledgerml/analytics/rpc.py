"""Raw transactions from any EVM node over JSON-RPC (``eth_getBlockByNumber`` with full transactions),
resumable: rows already fetched are kept in a checkpoint CSV and fetching continues after its last block."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from .._jsonrpc import JsonRpc
from ..errors import ConfigError

COLUMNS = ["block", "hash", "from", "to", "value", "timestamp", "gas", "contract_creation", "token"]
TRANSFER_TOPIC = (
    "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"  # Transfer(address,address,uint256)
)
TOKEN_DECIMALS = 18  # token amounts are reported in units of 10^-18, the common ERC-20 choice


def token_transfers(rpc: JsonRpc, number: int, timestamp: int) -> list[dict[str, Any]]:
    """ERC-20 ``Transfer`` events of one block (``eth_getLogs``), as rows with the token contract in ``token``."""
    logs = rpc.call("eth_getLogs", [{"fromBlock": hex(number), "toBlock": hex(number), "topics": [TRANSFER_TOPIC]}])
    rows = []
    for log in logs or []:
        topics = log.get("topics", [])
        if len(topics) != 3 or log.get("removed"):
            continue  # ERC-721 transfers index the token id as a fourth topic; removed logs were reorganised away
        data = log.get("data", "0x") or "0x"
        rows.append(
            {
                "block": number,
                "hash": log["transactionHash"],
                "from": "0x" + topics[1][-40:],
                "to": "0x" + topics[2][-40:],
                "value": int(data, 16) / 10**TOKEN_DECIMALS if data != "0x" else 0.0,
                "timestamp": timestamp,
                "gas": 0,
                "contract_creation": False,
                "token": log["address"].lower(),
            }
        )
    return rows


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
    last = int(rpc.call("eth_blockNumber"), 16) if to_block is None else to_block
    if from_block < 0 or last < from_block:
        raise ConfigError(f"block range {from_block}..{last} is empty or negative")
    done = pd.DataFrame(columns=COLUMNS)
    start = from_block
    if checkpoint is not None and checkpoint.exists():
        done = pd.read_csv(checkpoint)
        if not done.empty:
            start = max(start, int(done["block"].max()) + 1)
    rows: list[dict[str, Any]] = []
    total = last - from_block + 1
    for number in range(start, last + 1):
        block = rpc.call("eth_getBlockByNumber", [hex(number), True])
        if block is None:
            raise ConfigError(f"the node has no block {number}")
        timestamp = int(block["timestamp"], 16)
        for tx in block["transactions"]:
            rows.append(
                {
                    "block": number,
                    "hash": tx["hash"],
                    "from": tx["from"].lower(),
                    "to": (tx.get("to") or "").lower(),
                    "value": int(tx["value"], 16) / 1e18,
                    "timestamp": timestamp,
                    "gas": int(tx["gas"], 16),
                    "contract_creation": tx.get("to") is None,
                    "token": "",
                }
            )
        rows += token_transfers(rpc, number, timestamp)
        if checkpoint is not None and (number % 200 == 0 or number == last):
            pd.concat([done, pd.DataFrame(rows, columns=COLUMNS)]).to_csv(checkpoint, index=False)
        if progress is not None:
            progress(number - from_block + 1, total)
    frame = pd.concat([done, pd.DataFrame(rows, columns=COLUMNS)], ignore_index=True)
    return frame[(frame["block"] >= from_block) & (frame["block"] <= last)].reset_index(drop=True)
