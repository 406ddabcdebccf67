"""Synthetic transaction graphs with known laundering patterns among ordinary activity, in the manner of IBM's
AMLworld: fan-in, fan-out, peel chains, cycles and scatter-gather. For tests, demos and the node end-to-end test.

Columns: ``from, to, value`` (ether), ``timestamp`` (seconds), ``gas``, ``contract_creation`` (bool).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

PATTERNS = ("fan_in", "fan_out", "peel_chain", "cycle", "scatter_gather")


@dataclass
class SyntheticLedger:
    """Generated transactions and, for every illicit account, the pattern it took part in."""

    transactions: pd.DataFrame
    illicit: dict[str, str]
    accounts: list[str]


def _address(rng: np.random.Generator) -> str:
    return "0x" + rng.bytes(20).hex()


Row = tuple[str, str, float, int, int, bool]
GAS = 21000


def _ordinary_rows(rng: np.random.Generator, ordinary: list[str], count: int, start: int, span: int) -> list[Row]:
    """Random trades among ordinary accounts: log-normal values, times uniform over ``span`` seconds."""
    rows: list[Row] = []
    for _ in range(count):
        a, b = rng.choice(ordinary, size=2, replace=False)
        rows.append(
            (
                str(a),
                str(b),
                float(rng.lognormal(-1.0, 1.2)),
                start + int(rng.integers(0, span)),
                GAS,
                bool(rng.random() < 0.01),
            )
        )
    return rows


def _burst(rng: np.random.Generator, t0: int) -> int:
    """A time within the hour after ``t0``."""
    return t0 + int(rng.integers(0, 3600))


def _fan_in(rng: np.random.Generator, t0: int, amount: float, ordinary: list[str]) -> tuple[list[Row], list[str]]:
    """Many fresh sources pay one sink within an hour."""
    sink = _address(rng)
    sources = [_address(rng) for _ in range(int(rng.integers(8, 15)))]
    rows = [(s, sink, amount / len(sources), _burst(rng, t0), GAS, False) for s in sources]
    return rows, [sink, *sources]


def _fan_out(rng: np.random.Generator, t0: int, amount: float, ordinary: list[str]) -> tuple[list[Row], list[str]]:
    """One source pays many fresh targets within an hour."""
    source = _address(rng)
    targets = [_address(rng) for _ in range(int(rng.integers(8, 15)))]
    rows = [(source, t, amount / len(targets), _burst(rng, t0), GAS, False) for t in targets]
    return rows, [source, *targets]


def _peel_chain(rng: np.random.Generator, t0: int, amount: float, ordinary: list[str]) -> tuple[list[Row], list[str]]:
    """Value passed down a chain, each hop shaving a little off and peeling 5% to an ordinary account."""
    chain = [_address(rng) for _ in range(int(rng.integers(6, 10)))]
    rows: list[Row] = []
    value = amount
    for i, (a, b) in enumerate(itertools.pairwise(chain)):
        value *= float(rng.uniform(0.85, 0.95))
        rows.append((a, b, value, t0 + 600 * i, GAS, False))
        rows.append((a, str(rng.choice(ordinary)), value * 0.05, t0 + 600 * i + 60, GAS, False))
    return rows, chain


def _cycle(rng: np.random.Generator, t0: int, amount: float, ordinary: list[str]) -> tuple[list[Row], list[str]]:
    """Value sent three times round a small ring of fresh accounts."""
    ring = [_address(rng) for _ in range(int(rng.integers(3, 6)))]
    rows: list[Row] = [
        (a, ring[(i + 1) % len(ring)], amount * 0.99**i, t0 + 900 * (lap * len(ring) + i), GAS, False)
        for lap in range(3)
        for i, a in enumerate(ring)
    ]
    return rows, ring


def _scatter_gather(
    rng: np.random.Generator, t0: int, amount: float, ordinary: list[str]
) -> tuple[list[Row], list[str]]:
    """A source scatters to mules, which gather (less 3%) into a sink an hour later."""
    source, sink = _address(rng), _address(rng)
    mules = [_address(rng) for _ in range(int(rng.integers(5, 10)))]
    rows = [(source, m, amount / len(mules), _burst(rng, t0), GAS, False) for m in mules]
    rows += [(m, sink, 0.97 * amount / len(mules), _burst(rng, t0 + 3600), GAS, False) for m in mules]
    return rows, [source, sink, *mules]


PLANTERS = {
    "fan_in": _fan_in,
    "fan_out": _fan_out,
    "peel_chain": _peel_chain,
    "cycle": _cycle,
    "scatter_gather": _scatter_gather,
}
"""How each of ``PATTERNS`` is planted: ``(rng, t0, amount, ordinary) -> (rows, accounts)``."""


def generate(
    ordinary_accounts: int = 300,
    ordinary_transactions: int = 3000,
    groups_per_pattern: int = 3,
    seed: int = 0,
    start: int = 1_700_000_000,
) -> SyntheticLedger:
    """Ordinary accounts trade at random (log-normal values, spread over 30 days); each pattern is planted
    ``groups_per_pattern`` times with its own fresh accounts, compressed in time as laundering usually is."""
    rng = np.random.default_rng(seed)
    ordinary = [_address(rng) for _ in range(ordinary_accounts)]
    span = 30 * 86400
    rows = _ordinary_rows(rng, ordinary, ordinary_transactions, start, span)
    illicit: dict[str, str] = {}
    for pattern in PATTERNS:
        for _ in range(groups_per_pattern):
            t0 = start + int(rng.integers(0, span - 86400))
            amount = float(rng.uniform(20, 200))
            planted, accounts = PLANTERS[pattern](rng, t0, amount, ordinary)
            rows += planted
            illicit |= {a: pattern for a in accounts}
    frame = pd.DataFrame(rows, columns=["from", "to", "value", "timestamp", "gas", "contract_creation"])
    frame = frame.sort_values("timestamp", kind="stable").reset_index(drop=True)
    return SyntheticLedger(frame, illicit, ordinary + sorted(illicit))


def labelled_accounts(world: SyntheticLedger) -> pd.DataFrame:
    """The world's account table (``fraud features``' columns) with ``FLAG`` = 1 for every planted account."""
    from .features import account_features

    accounts = account_features(world.transactions)
    flags = accounts["Address"].map(lambda a: int(a in world.illicit))
    accounts.insert(1, "FLAG", flags)
    return accounts


def send_to_dev_node(url: str, world: SyntheticLedger, progress: Callable[[int, int], None] | None = None) -> int:
    """Replay the world's ether transfers on a development node that can impersonate accounts (anvil): fund
    each sender, send every transfer with its time gap kept, wait until each is mined. Contract creations are
    left out. Returns how many transactions were sent; ``ConfigError`` if the node refuses (not a dev node)."""
    from .._jsonrpc import JsonRpc

    rpc = JsonRpc(url)
    rows = world.transactions[~world.transactions["contract_creation"]]
    for address in sorted(set(rows["from"])):
        rpc.call("anvil_impersonateAccount", [address])
        rpc.call("anvil_setBalance", [address, hex(10**24)])
    last = int(rpc.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    start = int(rows["timestamp"].min())
    for done, row in enumerate(rows.itertuples(index=False), start=1):
        stamp = max(int(row.timestamp) - start + last + 1, last + 1)
        rpc.call("evm_setNextBlockTimestamp", [stamp])
        transaction = {"from": row[0], "to": row[1], "value": hex(int(row.value * 1e18)), "gas": hex(GAS)}
        _wait_mined(rpc, rpc.call("eth_sendTransaction", [transaction]))
        last = stamp
        if progress is not None:
            progress(done, len(rows))
    return len(rows)


MINE_TIMEOUT_SECONDS = 10.0
"""How long ``send_to_dev_node`` waits for one transaction to be mined."""


def _wait_mined(rpc: Any, transaction: str) -> None:
    """Poll for the receipt of ``transaction`` (anvil mines asynchronously)."""
    import time

    from ..errors import ConfigError

    deadline = time.monotonic() + MINE_TIMEOUT_SECONDS
    while rpc.call("eth_getTransactionReceipt", [transaction]) is None:
        if time.monotonic() > deadline:
            raise ConfigError(f"transaction {transaction} was not mined within {MINE_TIMEOUT_SECONDS:g} s")
        time.sleep(0.002)
