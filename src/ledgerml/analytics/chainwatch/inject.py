"""Labelled synthetic attacks on a real block trace. No labelled chain-attack data set exists, so the blocks
(gas used, gas limit, transaction counts) are real and everything else is generated, seeded:

- background transactions: each block gets its real number of transactions; senders from a recurring pool of
  3,000 accounts (Zipf weights) and 15% never-seen accounts; recipients from 500 popular contracts (60%) or
  a long tail; tips resampled from the real transactions of one mainnet block; 1% fail;
- the base fee follows the EIP-1559 rule from the (real or attacked) gas used;
- attack windows of 8-16 blocks whose intensity ramps up over their first 4 blocks:
  ``flooding`` (two accounts send up to half a block's usual count of spam, to fresh recipients, at zero tip,
  30% reverting; gas used rises accordingly), ``fee_manipulation`` (every gas price raised by up to 150% and
  blocks stuffed to 95% of the limit), ``sybil_burst`` (up to 60 new accounts a block, each funded by one funder
  and each calling one target contract)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .activity import Activity

ATTACKS = ("flooding", "fee_manipulation", "sybil_burst")
RAMP = 4
POOL, CONTRACTS, TAIL = 3000, 500, 50_000
NEW_SHARE, CONTRACT_SHARE, FAIL_SHARE = 0.15, 0.60, 0.01
SPAM_GAS = 50_000
FEE_UPLIFT = 1.5
SYBILS = 60
FIRST_ACCOUNT = {"pool": 0, "contracts": POOL, "tail": POOL + CONTRACTS, "fresh": POOL + CONTRACTS + TAIL}


@dataclass(frozen=True)
class Blocks:
    """A real block trace: numbers, timestamps, gas used and limit, transaction counts."""

    number: np.ndarray
    timestamp: np.ndarray
    gas_used: np.ndarray
    gas_limit: np.ndarray
    tx_count: np.ndarray


@dataclass(frozen=True)
class AttackWindow:
    """An injected attack: its kind and first and last block index (inclusive)."""

    kind: str
    first: int
    last: int


def base_fees(gas_used: np.ndarray, gas_limit: np.ndarray, first_gwei: float) -> np.ndarray:
    """Base fees in wei under EIP-1559 (elasticity 2, change denominator 8), from ``first_gwei``."""
    fees = np.empty(len(gas_used))
    fee = first_gwei * 1e9
    for i, (used, limit) in enumerate(zip(gas_used, gas_limit, strict=True)):
        fees[i] = fee
        target = limit / 2
        fee = max(fee + fee * (used - target) / target / 8, 1.0)
    return fees


def _zipf_choice(rng: np.random.Generator, n: int, size: int, a: float = 1.1) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** a
    return rng.choice(n, size=size, p=weights / weights.sum())


class _Builder:
    """Transactions being generated for a trace, appended block by block."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.block: list[np.ndarray] = []
        self.sender: list[np.ndarray] = []
        self.recipient: list[np.ndarray] = []
        self.tip: list[np.ndarray] = []
        self.failed: list[np.ndarray] = []
        self.next_fresh = FIRST_ACCOUNT["fresh"]

    def fresh(self, count: int) -> np.ndarray:
        ids = np.arange(self.next_fresh, self.next_fresh + count)
        self.next_fresh += count
        return ids

    def add(self, block: int, sender: np.ndarray, recipient: np.ndarray, tip: np.ndarray, failed: np.ndarray) -> None:
        self.block.append(np.full(len(sender), block))
        self.sender.append(sender)
        self.recipient.append(recipient)
        self.tip.append(tip)
        self.failed.append(failed)

    def background(self, block: int, count: int, tips: np.ndarray) -> None:
        rng = self.rng
        new = rng.random(count) < NEW_SHARE
        sender = np.where(new, 0, _zipf_choice(rng, POOL, count))
        sender[new] = self.fresh(int(new.sum()))
        popular = rng.random(count) < CONTRACT_SHARE
        recipient = np.where(
            popular,
            FIRST_ACCOUNT["contracts"] + _zipf_choice(rng, CONTRACTS, count),
            FIRST_ACCOUNT["tail"] + rng.integers(0, TAIL, count),
        )
        self.add(block, sender, recipient, rng.choice(tips, count), rng.random(count) < FAIL_SHARE)


def _intensity(i: int, window: AttackWindow) -> float:
    return min(1.0, (i - window.first + 1) / RAMP)


def _attack(b: _Builder, i: int, w: AttackWindow, usual: float, gas: np.ndarray, limit: int, tips: np.ndarray) -> None:
    """Add window ``w``'s transactions to block ``i`` and raise its gas used in ``gas``."""
    r, rng = _intensity(i, w), b.rng
    if w.kind == "flooding":
        count = round(r * 0.5 * usual)
        attackers = np.array([FIRST_ACCOUNT["fresh"] - 1, FIRST_ACCOUNT["fresh"] - 2])  # two fixed spam accounts
        b.add(i, rng.choice(attackers, count), b.fresh(count), np.zeros(count), rng.random(count) < 0.3)
        gas[i] = min(limit, gas[i] + count * SPAM_GAS)
    elif w.kind == "fee_manipulation":
        gas[i] = max(gas[i], int(limit * (0.5 + 0.45 * r)))
    elif w.kind == "sybil_burst":
        count = round(r * SYBILS)
        sybils = b.fresh(count)
        funder = np.full(count, FIRST_ACCOUNT["fresh"] - 3)
        target = np.full(count, FIRST_ACCOUNT["contracts"] + CONTRACTS - 1)
        b.add(i, funder, sybils, rng.choice(tips, count), np.zeros(count, dtype=bool))
        b.add(i, sybils, target, rng.choice(tips, count), np.zeros(count, dtype=bool))
        gas[i] = min(limit, gas[i] + 2 * count * 30_000)


def place_windows(
    blocks: int, per_kind: int, rng: np.random.Generator, *, start: int = 100, gap: int = 60
) -> list[AttackWindow]:
    """``per_kind`` windows of every attack kind at random, non-overlapping places at least ``gap`` apart."""
    kinds = [k for k in ATTACKS for _ in range(per_kind)]
    rng.shuffle(kinds)
    slots = (blocks - start) // len(kinds) if kinds else 0
    if slots < gap:
        raise ValueError(f"{blocks} blocks cannot hold {len(kinds)} windows {gap} blocks apart")
    windows = []
    for n, kind in enumerate(kinds):
        length = int(rng.integers(8, 17))
        first = start + n * slots + int(rng.integers(0, slots - length - 10))
        windows.append(AttackWindow(kind, first, first + length - 1))
    return windows


def synthesize(blocks: Blocks, windows: list[AttackWindow], tips: np.ndarray, seed: int) -> Activity:
    """The real ``blocks`` with generated background transactions and the ``windows`` injected."""
    rng = np.random.default_rng(seed)
    b = _Builder(rng)
    gas = blocks.gas_used.astype(np.int64).copy()
    usual = float(np.median(blocks.tx_count))
    for i in range(len(blocks.number)):
        b.background(i, int(blocks.tx_count[i]), tips)
        for w in windows:
            if w.first <= i <= w.last:
                _attack(b, i, w, usual, gas, int(blocks.gas_limit[i]), tips)
    fee = base_fees(gas, blocks.gas_limit, float(max(np.min(tips), 0.0)) + 0.2)
    block = np.concatenate(b.block)
    price = fee[block] / 1e9 + np.concatenate(b.tip)
    for w in windows:
        if w.kind == "fee_manipulation":
            for i in range(w.first, w.last + 1):
                price[block == i] *= 1 + FEE_UPLIFT * _intensity(i, w)
    return Activity(
        number=blocks.number.astype(np.int64),
        timestamp=blocks.timestamp.astype(np.int64),
        gas_used=gas,
        gas_limit=blocks.gas_limit.astype(np.int64),
        base_fee=fee,
        tx_block=block + int(blocks.number[0]),
        tx_sender=np.concatenate(b.sender).astype(np.int64),
        tx_recipient=np.concatenate(b.recipient).astype(np.int64),
        tx_gas_price=price,
        tx_failed=np.concatenate(b.failed),
        accounts=[],
    )
