"""Replay an arrival trace on the real SQLite ledger under a block-cutting policy.

Time is virtual but every cost in it is real: an event is accepted when its ``submit`` (signature and append)
returns, a block is sealed when ``seal`` returns, and the virtual clock advances by the wall time each of those
calls took on this machine; between them it jumps to the next release or the policy's deadline. The ledger is
opened with its own automatic sealing effectively off, and every block is cut by the policy through ``seal()``.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..identity import Identity
from ..ledger.base import LedgerBackend
from ..ledger.registry import Ledger, sqlite_url
from ..types import Role
from ..vocab.consensus import SealingPolicySet
from ..vocab.core import DatasetRegistered, RoleGranted
from .cutting import FixedPolicy, IdleGapPolicy, LearnedPolicy, Pending, Policy, percentile
from .traces import Trace

NEVER_SIZE, NEVER_INTERVAL = 1_000_000, 1e9
"""URL options that switch the ledger's own size/interval sealing off for the replay."""


@dataclass
class CuttingResult:
    """What one replay measured."""

    policy: str
    parameters: dict[str, float]
    events: int
    blocks: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    submit_ms: float
    seal_ms: float
    latencies_ms: list[float] = field(default_factory=list, repr=False)

    @property
    def blocks_per_10k(self) -> float:
        """Blocks sealed per 10,000 events."""
        return 10_000.0 * self.blocks / self.events if self.events else math.nan

    def to_dict(self) -> dict[str, Any]:
        """A JSON row."""
        row = {k: v for k, v in self.__dict__.items() if k != "latencies_ms"}
        return {**row, "blocks_per_10k": self.blocks_per_10k}


def policy_event(policy: Policy, note: str = "") -> SealingPolicySet:
    """The signed-event form of a policy's parameters."""
    if isinstance(policy, FixedPolicy):
        return SealingPolicySet(
            policy="fixed", block_size=policy.block_size, max_wait_ms=round(policy.interval_ms), note=note
        )
    if isinstance(policy, IdleGapPolicy):
        return SealingPolicySet(
            policy="adaptive",
            block_size=policy.block_size,
            max_wait_ms=round(policy.max_wait_ms),
            idle_gap_ms=round(policy.idle_gap_ms),
            note=note,
        )
    return SealingPolicySet(
        policy="learned",
        block_size=policy.block_size,
        max_wait_ms=round(policy.max_wait_ms),
        block_cost=round(policy.block_cost),
        note=note,
    )


def parameters(policy: Policy) -> dict[str, float]:
    """The policy's settings for a results table."""
    event = policy_event(policy)
    return {k: float(v) for k, v in event.model_dump().items() if k not in ("policy", "note") and v}


@dataclass
class _Run:
    """The replay's clock and the pending events."""

    ledger: LedgerBackend
    policy: Policy
    now: float = 0.0
    last_seal: float = -math.inf
    last_arrival: float = -math.inf
    pending: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    submit_s: float = 0.0
    seal_s: float = 0.0
    blocks: int = 0

    def view(self) -> Pending:
        return Pending(len(self.pending), self.pending[0], self.last_arrival, self.last_seal)

    def seal_at(self, when: float) -> None:
        self.now = max(self.now, when)
        began = time.perf_counter()
        sealed = self.ledger.seal()
        spent = time.perf_counter() - began
        assert sealed is not None, "the policy sealed with nothing pending"
        self.seal_s += spent
        self.now += spent * 1000.0
        self.latencies += [self.now - arrival for arrival in self.pending]
        self.pending, self.last_seal, self.blocks = [], self.now, self.blocks + 1

    def fire_due(self, available: float) -> None:
        """Seal while the policy's deadline comes before the next event is available."""
        while self.pending:
            due = self.policy.deadline(self.view())
            if due > max(self.now, available):
                return
            self.seal_at(due)

    def submit(self, submitter: Identity, payload: DatasetRegistered, released: float) -> None:
        self.now = max(self.now, released)
        began = time.perf_counter()
        self.ledger.submit(submitter, payload)
        spent = time.perf_counter() - began
        self.submit_s += spent
        self.now += spent * 1000.0
        if math.isfinite(self.last_arrival):
            self.policy.observe(self.now - self.last_arrival)
        self.pending.append(self.now)
        self.last_arrival = self.now
        if len(self.pending) >= self.policy.block_size:
            self.seal_at(self.now)


def open_replay_ledger(path: Path, validator: Identity, submitter: Identity) -> LedgerBackend:
    """A new SQLite ledger with automatic sealing off and ``submitter`` a data owner."""
    ledger = Ledger.create(sqlite_url(path, block_size=NEVER_SIZE, block_interval=NEVER_INTERVAL), admin=validator)
    ledger.submit(validator, RoleGranted(subject=submitter.address, role=Role.DATA_OWNER))
    ledger.seal()
    return ledger


def replay(
    ledger: LedgerBackend, trace: Trace, policy: Policy, *, validator: Identity, submitter: Identity, note: str = ""
) -> CuttingResult:
    """Submit every event of ``trace`` (a ``DatasetRegistered`` per event) and let ``policy`` cut the blocks;
    the policy's parameters are recorded first as a signed ``SealingPolicySet``."""
    ledger.submit(validator, policy_event(policy, note))
    ledger.seal()
    run, serial = _Run(ledger, policy), 0
    for released, count in trace.releases:
        for _ in range(count):
            run.fire_due(released)
            serial += 1
            dataset = "sha256:" + hashlib.sha256(f"{trace.name}/{serial}".encode()).hexdigest()
            run.submit(submitter, DatasetRegistered(dataset_id=dataset, name=f"event {serial}"), released)
    run.fire_due(math.inf)
    events = len(run.latencies)
    return CuttingResult(
        policy.name,
        parameters(policy),
        events,
        run.blocks,
        percentile(run.latencies, 50),
        percentile(run.latencies, 99),
        max(run.latencies, default=math.nan),
        1000.0 * run.submit_s / max(events, 1),
        1000.0 * run.seal_s / max(run.blocks, 1),
        run.latencies,
    )


def replay_new(path: Path, trace: Trace, policy: Policy, *, validator: Identity, submitter: Identity) -> CuttingResult:
    """``replay`` on a new ledger file at ``path``, closed afterwards."""
    with open_replay_ledger(path, validator, submitter) as ledger:
        return replay(ledger, trace, policy, validator=validator, submitter=submitter)


__all__ = ["CuttingResult", "FixedPolicy", "IdleGapPolicy", "LearnedPolicy", "replay", "replay_new"]
