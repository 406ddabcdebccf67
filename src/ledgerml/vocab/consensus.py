"""The consensus vocabulary: the embedded ledger's block-cutting parameters, changed only by a signed event.

A ``SealingPolicySet`` names the policy that decides when the validator seals (``fixed``: size/interval;
``adaptive``: an idle-gap rule; ``learned``: the arrival-model policy of ``ledgerml.consensus.cutting``;
``burst``: the learned burst cutting, which also cuts long bursts) and its parameters. Only an admin or a
validator may change it, a change must change something, and ``verify`` replays every change with the rest of
the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from ..errors import InvalidTransition
from ..events import Event, Payload, event_kind
from ..state import State, record_type, rule
from ..types import Role
from .core import require_role
from .evm import not_on_chain

PolicyName = Literal["fixed", "adaptive", "learned", "burst"]


@event_kind("SealingPolicySet")
class SealingPolicySet(Payload):
    """The validator's block-cutting policy from this event on: block size cap, longest wait of an event (ms),
    idle gap that closes a burst (ms, 0 = none), and the learned and burst policies' cost of a block in
    event-milliseconds (0 = none)."""

    policy: PolicyName
    block_size: int = Field(ge=1, le=1_000_000)
    max_wait_ms: int = Field(ge=0, le=86_400_000)
    idle_gap_ms: int = Field(default=0, ge=0, le=86_400_000)
    block_cost: int = Field(default=0, ge=0, le=10**12)
    note: str = Field(default="", max_length=200)


@record_type
@dataclass(frozen=True, slots=True)
class SealingPolicyRecord:
    """The sealing policy in force and the event that set it."""

    policy: str
    block_size: int
    max_wait_ms: int
    idle_gap_ms: int
    block_cost: int
    set_by: str
    time: int


def sealing_policy(state: State) -> SealingPolicyRecord | None:
    """The policy in force, or None when no ``SealingPolicySet`` was accepted (the ledger's URL options rule)."""
    record: SealingPolicyRecord | None = state.get("consensus", "sealing")
    return record


@rule(SealingPolicySet)
def _sealing_policy_set(state: State, event: Event, payload: SealingPolicySet) -> None:
    require_role(state, event.actor, Role.ADMIN, Role.VALIDATOR)
    settings = (payload.policy, payload.block_size, payload.max_wait_ms, payload.idle_gap_ms, payload.block_cost)
    current = sealing_policy(state)
    if current is not None and settings == (
        current.policy,
        current.block_size,
        current.max_wait_ms,
        current.idle_gap_ms,
        current.block_cost,
    ):
        raise InvalidTransition("the sealing policy is set to these parameters already")
    state.put("consensus", "sealing", SealingPolicyRecord(*settings, set_by=event.actor, time=event.time))


not_on_chain(
    SealingPolicySet,
    "the embedded SQLite ledger's own block cutting: an EVM chain cuts blocks by its own consensus, and "
    "Ledger.vy has no room left for it",
)
