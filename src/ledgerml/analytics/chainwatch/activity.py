"""Chain activity as plain arrays: one row a block, one row a transaction (accounts as integer ids)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import ConfigError


@dataclass(frozen=True)
class Activity:
    """Blocks (consecutive, in order) and their transactions; ``accounts[i]`` is the address of account id ``i``.

    ``gas_price`` is in gwei; ``failed`` is True for a transaction whose receipt says it reverted (False when no
    receipt was read). ``base_fee`` is NaN where the source has none."""

    number: np.ndarray
    timestamp: np.ndarray
    gas_used: np.ndarray
    gas_limit: np.ndarray
    base_fee: np.ndarray
    tx_block: np.ndarray
    tx_sender: np.ndarray
    tx_recipient: np.ndarray
    tx_gas_price: np.ndarray
    tx_failed: np.ndarray
    accounts: list[str] = field(default_factory=list)
    tx_counts: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.number)
        if n == 0:
            raise ConfigError("chain activity has no blocks")
        if n > 1 and np.any(np.diff(self.number) != 1):
            raise ConfigError("blocks must be consecutive and in order")
        if np.any(self.gas_limit <= 0) or np.any(self.gas_used < 0) or np.any(self.gas_used > self.gas_limit):
            raise ConfigError("every block needs 0 <= gas_used <= gas_limit and a positive gas_limit")
        m = len(self.tx_block)
        if not all(len(a) == m for a in (self.tx_sender, self.tx_recipient, self.tx_gas_price, self.tx_failed)):
            raise ConfigError("transaction columns differ in length")
        if m and (self.tx_block.min() < self.number[0] or self.tx_block.max() > self.number[-1]):
            raise ConfigError("a transaction names a block outside the block range")
        if m and (not np.all(np.isfinite(self.tx_gas_price)) or np.any(self.tx_gas_price < 0)):
            raise ConfigError("every transaction needs a finite, non-negative gas price")

    @property
    def blocks(self) -> int:
        """How many blocks."""
        return len(self.number)

    def transactions_per_block(self) -> np.ndarray:
        """Transactions of each block: the counted rows, or the source's count where it gave one without rows."""
        counted = np.bincount(self.tx_block - self.number[0], minlength=self.blocks).astype(np.float64)
        if self.tx_counts is None:
            return counted
        return np.maximum(counted, self.tx_counts.astype(np.float64))

    def to_json(self) -> dict[str, Any]:
        """The activity as JSON data (what an alert's explanation keeps in the store, by digest)."""
        return {
            "blocks": {
                "number": self.number.tolist(),
                "timestamp": self.timestamp.tolist(),
                "gas_used": self.gas_used.tolist(),
                "gas_limit": self.gas_limit.tolist(),
                "base_fee": [None if np.isnan(f) else float(f) for f in self.base_fee],
                "tx_count": None if self.tx_counts is None else self.tx_counts.tolist(),
            },
            "transactions": {
                "block": self.tx_block.tolist(),
                "sender": self.tx_sender.tolist(),
                "recipient": self.tx_recipient.tolist(),
                "gas_price": self.tx_gas_price.tolist(),
                "failed": self.tx_failed.astype(int).tolist(),
            },
            "accounts": list(self.accounts),
        }


def _ints(values: Any, what: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{what} must be integers") from None
    if array.ndim != 1:
        raise ConfigError(f"{what} must be a list")
    return array


def activity_from_json(data: Any) -> Activity:
    """Rebuild an ``Activity`` from ``to_json`` data; ``ConfigError`` on anything malformed."""
    try:
        b, t, accounts = data["blocks"], data["transactions"], data["accounts"]
        fees = np.array([np.nan if f is None else float(f) for f in b["base_fee"]], dtype=np.float64)
        counts = None if b.get("tx_count") is None else _ints(b["tx_count"], "tx_count")
        return Activity(
            number=_ints(b["number"], "number"),
            timestamp=_ints(b["timestamp"], "timestamp"),
            gas_used=_ints(b["gas_used"], "gas_used"),
            gas_limit=_ints(b["gas_limit"], "gas_limit"),
            base_fee=fees,
            tx_block=_ints(t["block"], "block"),
            tx_sender=_ints(t["sender"], "sender"),
            tx_recipient=_ints(t["recipient"], "recipient"),
            tx_gas_price=np.asarray(t["gas_price"], dtype=np.float64),
            tx_failed=np.asarray(t["failed"], dtype=bool),
            accounts=[str(a) for a in accounts],
            tx_counts=counts,
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ConfigError("chain activity data is malformed") from None


class AccountIds:
    """Addresses to dense integer ids, in order of first sight."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.addresses: list[str] = []

    def __call__(self, address: str) -> int:
        key = address.lower()
        found = self.ids.get(key)
        if found is None:
            found = self.ids[key] = len(self.addresses)
            self.addresses.append(key)
        return found
