"""The embedded ledger's block cutting under the signed ``SealingPolicySet`` in force.

The SQLite ledger asks a :class:`PolicySealer` after every write which blocks to cut, and when the next one is due
if nothing else arrives (its timer, ``SqliteLedger.next_seal_ms`` / ``seal_due``). The sealer turns the policy
record of the ledger's state into a ``cutting`` policy, notes when pending events arrived (the learned policy also
folds each inter-arrival gap into its model), and answers with the log sizes to seal at. Pure logic on the numbers
the ledger gives it; the clock is injectable (milliseconds), so a replay can run it on virtual time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..events import build_payload
from ..vocab.consensus import SealingPolicyRecord, SealingPolicySet
from .cutting import BurstPolicy, FixedPolicy, IdleGapPolicy, LearnedPolicy, Pending, Policy


def wall_clock_ms() -> float:
    """Unix time in milliseconds."""
    return time.time() * 1000.0


def policy_from_record(record: SealingPolicyRecord) -> Policy:
    """The ``cutting`` policy a ``SealingPolicySet`` names, with its recorded parameters."""
    if record.policy == "fixed":
        return FixedPolicy(record.block_size, float(record.max_wait_ms))
    if record.policy == "adaptive":
        return IdleGapPolicy(record.block_size, float(record.idle_gap_ms), float(record.max_wait_ms))
    if record.policy == "burst":
        return BurstPolicy(record.block_size, float(record.block_cost), float(record.max_wait_ms))
    return LearnedPolicy(record.block_size, float(record.block_cost), float(record.max_wait_ms))


def policy_event(policy: Policy, note: str = "") -> SealingPolicySet:
    """The signed-event form of a policy's parameters (``policy_from_record`` of its record rebuilds it); a value
    the schema refuses (a note over 200 characters, say) is one ``MalformedEvent`` line."""
    if isinstance(policy, FixedPolicy):
        fields: dict[str, Any] = {"policy": "fixed", "max_wait_ms": round(policy.interval_ms)}
    elif isinstance(policy, IdleGapPolicy):
        fields = {
            "policy": "adaptive",
            "max_wait_ms": round(policy.max_wait_ms),
            "idle_gap_ms": round(policy.idle_gap_ms),
        }
    else:
        fields = {
            "policy": "burst" if isinstance(policy, BurstPolicy) else "learned",
            "max_wait_ms": round(policy.max_wait_ms),
            "block_cost": round(policy.block_cost),
        }
    return build_payload(SealingPolicySet, block_size=policy.block_size, note=note, **fields)


def _settings(record: SealingPolicyRecord) -> tuple[str, int, int, int, int]:
    return (record.policy, record.block_size, record.max_wait_ms, record.idle_gap_ms, record.block_cost)


@dataclass
class PolicySealer:
    """Arrivals of the pending events and the policy in force; ``cuts`` says where to seal."""

    clock: Callable[[], float] = wall_clock_ms
    policy: Policy | None = None
    settings: tuple[str, int, int, int, int] | None = None
    seen: int = -1
    sealed: int = -1
    last_seal_ms: float = -math.inf
    last_arrival_ms: float = -math.inf
    arrivals: list[float] = field(default_factory=list)

    @property
    def block_size(self) -> int:
        """The block size cap of the policy in force (1,000,000 before any)."""
        return 1_000_000 if self.policy is None else self.policy.block_size

    def adopt(self, record: SealingPolicyRecord) -> Policy:
        """Follow ``record`` from now on; a learned policy keeps what it learned of the arrivals."""
        if self.policy is None or _settings(record) != self.settings:
            fresh = policy_from_record(record)
            if isinstance(fresh, LearnedPolicy) and isinstance(self.policy, LearnedPolicy):
                fresh.weights_, fresh.waits_ = self.policy.weights_, self.policy.waits_
            if isinstance(fresh, BurstPolicy) and isinstance(self.policy, BurstPolicy):
                fresh.weights_, fresh.rates_ = self.policy.weights_, self.policy.rates_
            self.policy, self.settings = fresh, _settings(record)
        return self.policy

    def note(self, sealed: int, size: int, sealed_at_ms: float = math.inf) -> None:
        """Take in the ledger's sealed and total log sizes and the last block's time: events beyond ``seen``
        arrived now (gaps observed); a seal this sealer did not make (``seal()``, another process, or before it
        existed) counts as made at the block's time, or now if that is later (a clock other than the wall's)."""
        now = self.clock()
        if self.seen < 0:
            self.seen, self.sealed, self.last_seal_ms = sealed, sealed, min(now, sealed_at_ms)
        if sealed > self.sealed:
            self.sealed, self.last_seal_ms = sealed, min(now, sealed_at_ms)
        fresh = size - max(self.seen, sealed)
        for _ in range(max(fresh, 0)):
            if self.policy is not None and math.isfinite(self.last_arrival_ms):
                self.policy.observe(max(now - self.last_arrival_ms, 0.0))
            self.last_arrival_ms = now
        self.seen = size
        pending = size - sealed
        older = [self.last_seal_ms] * max(pending - len(self.arrivals) - max(fresh, 0), 0)
        self.arrivals = (older + self.arrivals + [now] * max(fresh, 0))[-pending:] if pending > 0 else []

    def _view(self) -> Pending:
        count = len(self.arrivals)
        return Pending(count, self.arrivals[0], self.last_arrival_ms, self.last_seal_ms, sum(self.arrivals) / count)

    def next_due_ms(self) -> float | None:
        """When the policy seals the pending events if nothing else arrives; None when nothing is pending."""
        if self.policy is None or not self.arrivals:
            return None
        return self.policy.deadline(self._view())

    def cuts(self, sealed: int, size: int, sealed_at_ms: float = math.inf) -> list[int]:
        """The log sizes to seal at now: full blocks of the size cap, then every pending event if due
        (``sealed_at_ms``: the last block's time, see ``note``)."""
        self.note(sealed, size, sealed_at_ms)
        if self.policy is None:
            return []
        cap, out = self.policy.block_size, []
        while size - sealed >= cap:
            sealed += cap
            out.append(sealed)
        if size > sealed:
            self.arrivals = self.arrivals[len(self.arrivals) - (size - sealed) :]
            due = self.next_due_ms()
            if due is not None and due <= self.clock():
                out.append(size)
        if out:
            self.sealed, self.last_seal_ms = out[-1], self.clock()
            self.arrivals = self.arrivals[len(self.arrivals) - (size - out[-1]) :] if size > out[-1] else []
        return out


__all__ = ["PolicySealer", "policy_event", "policy_from_record", "wall_clock_ms"]
