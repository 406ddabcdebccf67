"""Replays of an arrival trace under a block-cutting policy, on live or simulated time.

The ledger cuts every block itself by the signed ``SealingPolicySet`` (its ``PolicySealer``); the replay only
records the policy, submits the trace's events and runs the ledger's timer (``next_seal_ms`` / ``seal_due``). Two
clocks: **live** (``costs=None``: virtual time advanced by the wall time each ledger call took) and **simulated**
(``FixedCosts``: every submit costs ``submit_ms`` and every block ``seal_ms``, so the result does not depend on the
machine's load and is the same on every run). Two ledgers: the real SQLite ledger, or :class:`SealerLedger`, the
SQLite ledger's cutting without storage (the same ``PolicySealer`` called the same way; a test checks it cuts
exactly where the SQLite ledger does), for fast simulated sweeps.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..identity import Identity
from ..vocab.consensus import SealingPolicyRecord, SealingPolicySet
from ..vocab.core import DatasetRegistered
from .cutting import Policy, percentile
from .sealer import PolicySealer, policy_event
from .traces import Trace


@dataclass(frozen=True)
class FixedCosts:
    """Simulated time: what one submit and one sealed block cost (ms)."""

    submit_ms: float = 8.0
    seal_ms: float = 2.0


@dataclass(frozen=True)
class Head:
    """The newest block of a :class:`SealerLedger`: what the replay reads of ``ledger.block()``."""

    log_size: int
    height: int


class SealerLedger:
    """The SQLite ledger's block cutting without storage: ``submit`` appends and asks the sealer for cuts,
    ``seal_due`` is a write of nothing, ``seal`` cuts everything pending within the cap."""

    def __init__(self) -> None:
        self.sealer: PolicySealer | None = None
        self.size, self.head = 0, Head(0, 0)

    def _cut(self, log_size: int) -> None:
        self.head = Head(log_size, self.head.height + 1)

    def _due(self) -> None:
        if self.sealer is not None and self.sealer.policy is not None:
            for log_size in self.sealer.cuts(self.head.log_size, self.size, math.inf):
                self._cut(log_size)

    def submit(self, identity: Identity, payload: Any) -> None:
        """Append one event; a ``SealingPolicySet`` is adopted before the cut, as the state rule would."""
        if isinstance(payload, SealingPolicySet) and self.sealer is not None:
            fields = payload.model_dump(exclude={"note"})
            self.sealer.adopt(SealingPolicyRecord(**fields, set_by=identity.address, time=0))
        self.size += 1
        self._due()

    def seal(self) -> Head | None:
        """Seal every pending event (blocks of the cap)."""
        cap = self.sealer.block_size if self.sealer is not None else self.size
        while self.size - self.head.log_size > cap:
            self._cut(self.head.log_size + cap)
        if self.size > self.head.log_size:
            self._cut(self.size)
        self._due()
        return self.head

    def seal_due(self) -> Head | None:
        """Seal what the policy says is due now."""
        before = self.head.height
        self._due()
        return self.head if self.head.height > before else None

    def next_seal_ms(self) -> float | None:
        """The policy's deadline for the pending events, or None."""
        return None if self.sealer is None else self.sealer.next_due_ms()

    def block(self) -> Head:
        """The newest block."""
        return self.head


@dataclass
class Run:
    """The replay's virtual clock (the ledger sealer's clock too) and the trace events not sealed yet."""

    ledger: Any
    costs: FixedCosts | None = None
    now: float = 0.0
    began: float = 0.0
    sealed: int = 0
    height: int = 0
    first_height: int = 0
    pending: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    submit_ms: list[float] = field(default_factory=list)
    seal_ms: list[float] = field(default_factory=list)

    def clock(self) -> float:
        """Virtual now: live, the start of the current call plus the real time spent in it so far; simulated,
        the end of the current submit (its cost paid, before any seal)."""
        if self.costs is None:
            return self.now + (time.perf_counter() - self.began) * 1000.0
        return self.now

    def start(self) -> None:
        """Count blocks and latencies from here on."""
        head = self.ledger.block()
        self.sealed, self.height, self.first_height = head.log_size, head.height, head.height

    def call(self, work: Callable[[], object], submit: bool) -> float:
        """Run one ledger call on the virtual clock; the virtual ms it took."""
        before = self.now
        if self.costs is not None:
            height = self.ledger.block().height
            self.now += self.costs.submit_ms if submit else 0.0
            work()
            self.now += self.costs.seal_ms * (self.ledger.block().height - height)
        else:
            self.began = time.perf_counter()
            work()
            self.now += (time.perf_counter() - self.began) * 1000.0
        return self.now - before

    def settle(self) -> int:
        """Record the latencies of the events sealed during the last call; how many blocks it cut."""
        head = self.ledger.block()
        count = head.log_size - self.sealed
        if count > 0:
            self.latencies += [self.now - accepted for accepted in self.pending[:count]]
            self.pending = self.pending[count:]
        cut, self.sealed, self.height = head.height - self.height, head.log_size, head.height
        return int(cut)

    def fire_due(self, available: float) -> None:
        """Run the ledger's timer while its policy's deadline comes before the next event is available."""
        while self.pending:
            due = self.ledger.next_seal_ms()
            if due is None or due > max(self.now, available):
                return
            self.now = max(self.now, due)
            self.seal_ms.append(self.call(self.ledger.seal_due, submit=False))
            if not self.settle():
                raise RuntimeError(f"the ledger's sealing policy was due at {due} ms but sealed nothing")

    def submit(self, submitter: Identity, payload: DatasetRegistered, released: float) -> None:
        """Submit one event once it is released; it is accepted when the call returns (before its seal cost)."""
        self.now = max(self.now, released)
        spent = self.call(lambda: self.ledger.submit(submitter, payload), submit=True)
        cut = self.ledger.block().height - self.height
        self.submit_ms.append(spent - (self.costs.seal_ms * cut if self.costs is not None else 0.0))
        self.pending.append(self.now - (self.costs.seal_ms * cut if self.costs is not None else 0.0))
        self.settle()


@dataclass
class ReplayResult:
    """What one replay measured (times in ms; ``clock`` is ``live`` or ``simulated``)."""

    policy: str
    parameters: dict[str, float]
    clock: str
    events: int
    blocks: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    submit_ms: float
    submit_p90_ms: float
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


def parameters(policy: Policy) -> dict[str, float]:
    """The policy's settings for a results table."""
    event = policy_event(policy)
    return {k: float(v) for k, v in event.model_dump().items() if k not in ("policy", "note") and v}


def _result(policy: Policy, run: Run) -> ReplayResult:
    lat = run.latencies
    return ReplayResult(
        policy.name,
        parameters(policy),
        "live" if run.costs is None else "simulated",
        len(lat),
        run.height - run.first_height,
        percentile(lat, 50),
        percentile(lat, 99),
        max(lat, default=math.nan),
        sum(run.submit_ms) / max(len(run.submit_ms), 1),
        percentile(run.submit_ms, 90),
        sum(run.seal_ms) / max(len(run.seal_ms), 1),
        lat,
    )


def replay(
    ledger: Any,
    trace: Trace,
    policy: Policy,
    *,
    validator: Identity,
    submitter: Identity,
    costs: FixedCosts | None = None,
    note: str = "",
) -> ReplayResult:
    """Record ``policy`` as a signed ``SealingPolicySet`` on ``ledger`` (an embedded SQLite ledger opened with the
    validator key, or a :class:`SealerLedger`), submit every event of ``trace`` (a ``DatasetRegistered`` each)
    and let the ledger cut the blocks; ``costs`` None: live time, else simulated."""
    run, serial = Run(ledger, costs), 0
    ledger.sealer = PolicySealer(clock=run.clock)
    run.call(lambda: ledger.submit(validator, policy_event(policy, note)), submit=True)
    run.call(ledger.seal, submit=False)
    run.start()
    for released, count in trace.releases:
        for _ in range(count):
            run.fire_due(released)
            serial += 1
            dataset = "sha256:" + hashlib.sha256(f"{trace.name}/{serial}".encode()).hexdigest()
            run.submit(submitter, DatasetRegistered(dataset_id=dataset, name=f"event {serial}"), released)
    run.fire_due(math.inf)
    return _result(policy, run)


def simulate(trace: Trace, policy: Policy, costs: FixedCosts = FixedCosts()) -> ReplayResult:
    """``replay`` on a :class:`SealerLedger` with simulated time: deterministic, no storage, fast."""
    nobody = Identity.from_private_key("simulated", bytes([17]) * 32)
    return replay(SealerLedger(), trace, policy, validator=nobody, submitter=nobody, costs=costs)


__all__ = ["FixedCosts", "ReplayResult", "SealerLedger", "replay", "simulate"]
