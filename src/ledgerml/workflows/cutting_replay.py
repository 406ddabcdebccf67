"""Replay an arrival trace on the real SQLite ledger, which cuts its blocks by the signed sealing policy.

The replay records the policy as a ``SealingPolicySet`` and then only submits events and runs the ledger's sealing
timer (``SqliteLedger.next_seal_ms`` / ``seal_due``); every block is cut by the ledger's own ``PolicySealer``.
Time is virtual but every cost in it is real: the sealer's clock is the replay's, which advances by the wall time
each ledger call took on this machine (an event is accepted when its ``submit`` returns, sealed when the call that
sealed it returns) and between calls jumps to the next release or the policy's deadline. The ledger is opened
with its URL sealing options off, so nothing but the policy cuts a block.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..consensus.cutting import FixedPolicy, IdleGapPolicy, LearnedPolicy, Policy, percentile
from ..consensus.sealer import PolicySealer
from ..consensus.traces import Trace
from ..errors import ConfigError
from ..identity import Identity
from ..ledger.base import LedgerBackend
from ..ledger.registry import Ledger, sqlite_url
from ..ledger.sqlite import SqliteLedger
from ..types import Role
from ..vocab.consensus import SealingPolicySet
from ..vocab.core import DatasetRegistered, RoleGranted

NEVER_SIZE, NEVER_INTERVAL = 1_000_000, 1e9
"""URL options that switch the ledger's size/interval sealing off (the signed policy rules once recorded)."""


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
    """The replay's virtual clock (also the ledger sealer's clock) and the trace events not sealed yet."""

    ledger: SqliteLedger
    now: float = 0.0
    began: float = 0.0
    sealed: int = 0
    height: int = 0
    pending: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    submit_s: float = 0.0
    seal_s: float = 0.0
    timer_calls: int = 0
    first_height: int = 0

    @property
    def blocks(self) -> int:
        """Blocks sealed since the replay's first event."""
        return self.height - self.first_height

    def clock(self) -> float:
        """Virtual now: the start of the current ledger call plus the real time spent in it so far."""
        return self.now + (time.perf_counter() - self.began) * 1000.0

    def start(self) -> None:
        head = self.ledger.block()
        self.sealed, self.height, self.first_height = head.log_size, head.height, head.height

    def call(self, work: Callable[[], object]) -> float:
        """Run one ledger call on the virtual clock; the seconds it took."""
        self.began = time.perf_counter()
        work()
        spent = time.perf_counter() - self.began
        self.now += spent * 1000.0
        return spent

    def _settle(self) -> int:
        """Record the latencies of the events the ledger sealed during the last call; how many blocks it cut."""
        head = self.ledger.block()
        if head.log_size > self.sealed:
            count = head.log_size - self.sealed
            self.latencies += [self.now - accepted for accepted in self.pending[:count]]
            self.pending = self.pending[count:]
        cut, self.sealed, self.height = head.height - self.height, head.log_size, head.height
        return cut

    def fire_due(self, available: float) -> None:
        """Run the ledger's sealing timer while its policy's deadline comes before the next event is available."""
        while self.pending:
            due = self.ledger.next_seal_ms()
            if due is None or due > max(self.now, available):
                return
            self.now = max(self.now, due)
            self.seal_s += self.call(self.ledger.seal_due)
            self.timer_calls += 1
            if not self._settle():
                raise RuntimeError(f"the ledger's sealing policy was due at {due} ms but sealed nothing")

    def submit(self, submitter: Identity, payload: DatasetRegistered, released: float) -> None:
        self.now = max(self.now, released)
        self.submit_s += self.call(lambda: self.ledger.submit(submitter, payload))
        self.pending.append(self.now)
        self._settle()


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
    if not isinstance(ledger, SqliteLedger):
        raise ConfigError("block-cutting replays run on the embedded SQLite ledger")
    run, serial = _Run(ledger), 0
    ledger.sealer = PolicySealer(clock=run.clock)
    run.call(lambda: ledger.submit(validator, policy_event(policy, note)))
    run.call(ledger.seal)
    run.start()
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
        1000.0 * run.seal_s / max(run.timer_calls, 1),
        run.latencies,
    )


def replay_new(path: Path, trace: Trace, policy: Policy, *, validator: Identity, submitter: Identity) -> CuttingResult:
    """``replay`` on a new ledger file at ``path``, closed afterwards."""
    with open_replay_ledger(path, validator, submitter) as ledger:
        return replay(ledger, trace, policy, validator=validator, submitter=submitter)


__all__ = ["CuttingResult", "FixedPolicy", "IdleGapPolicy", "LearnedPolicy", "replay", "replay_new"]
