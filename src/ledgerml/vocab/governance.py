"""k-of-n governance: a policy naming members and a threshold, proposals of exact events, approvals, execution.

``GovernancePolicySet`` (by an admin while no policy exists, afterwards only through an executed proposal) says
which kinds need ``threshold`` approvals of ``members``. ``ProposalCreated`` carries the exact event to apply (its
kind and canonical payload) and the digest of both; the proposer's own signature is its first approval.
``ProposalApproved`` / ``ProposalRejected`` are each signed by one member, once per member. ``ProposalExecuted``
(by a member, before the proposal expires, once the approvals reach the threshold) applies the embedded payload
under the rules of its kind with the *proposer* as its actor, the execution's time, and the execution's event id
(what a record's ``created_by`` names). A policy change makes proposals made under the old policy stale.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Annotated, Any, Literal, get_args

from pydantic import Field, JsonValue, model_validator

from .._canonical import canonical_json
from ..errors import DuplicateRegistration, InvalidTransition, MalformedEvent, Unauthorized, UnknownReference
from ..events import AddressField, DigestField, Event, Payload, ShortText, event_kind, validate_payload
from ..state import State, record_type, rule, rule_for
from ..types import Address, Role
from ._gate import POLICY_KEY, POLICY_TABLE, current_policy, executing, governs, require_approval
from .core import require_role
from .evm import GOVERNANCE, Call, LedgerCall, address_order, digest32, encoder, evm_call

GovernedKind = Literal["GovernancePolicySet", "RoleGranted", "RoleRevoked", "TokensMinted", "TaskCreated"]
GOVERNABLE: tuple[GovernedKind, ...] = get_args(GovernedKind)
"""The kinds a policy may govern; every policy governs ``GovernancePolicySet`` itself."""
MAX_MEMBERS = 64
MAX_TTL_MS = 90 * 24 * 3600 * 1000
"""Longest a proposal may stay open (90 days)."""
PROPOSALS = "proposals"
ProposalId = Annotated[int, Field(ge=1, le=2**63 - 1)]


@event_kind("GovernancePolicySet")
class GovernancePolicySet(Payload):
    """The governance policy: ``threshold`` of ``members`` must approve events of the kinds in ``actions``."""

    threshold: int = Field(ge=1, le=MAX_MEMBERS)
    members: list[AddressField] = Field(max_length=MAX_MEMBERS)
    """At least ``threshold`` of them (checked by the rule)."""
    actions: list[GovernedKind] = Field(default_factory=lambda: list(GOVERNABLE), max_length=len(GOVERNABLE))

    @model_validator(mode="after")
    def _consistent(self) -> GovernancePolicySet:
        if len(set(self.members)) != len(self.members):
            raise ValueError("members must not repeat")
        if len(set(self.actions)) != len(self.actions):
            raise ValueError("actions must not repeat")
        if "GovernancePolicySet" not in self.actions:
            raise ValueError("the policy must govern its own changes (GovernancePolicySet in actions)")
        return self


@event_kind("ProposalCreated")
class ProposalCreated(Payload):
    """A member proposes the exact event ``action`` + ``payload``; ``digest`` is :func:`action_digest` of both."""

    action: GovernedKind
    payload: dict[str, JsonValue]
    digest: DigestField
    expires: int = Field(ge=0, le=253_402_300_799_999)


@event_kind("ProposalApproved")
class ProposalApproved(Payload):
    """A member approves proposal ``proposal`` whose action has ``digest``."""

    proposal: ProposalId
    digest: DigestField


@event_kind("ProposalRejected")
class ProposalRejected(Payload):
    """A member rejects proposal ``proposal``; it fails once the threshold can no longer be reached."""

    proposal: ProposalId
    digest: DigestField
    reason: ShortText = ""


@event_kind("ProposalExecuted")
class ProposalExecuted(Payload):
    """A member applies an approved proposal's event."""

    proposal: ProposalId
    digest: DigestField


@record_type
@dataclass(frozen=True, slots=True)
class PolicyRecord:
    """The policy in force; ``version`` counts the policies set on this ledger (1 for the first)."""

    version: int
    threshold: int
    members: tuple[str, ...]
    actions: tuple[str, ...]
    set_by: str  # event id
    time: int


@record_type
@dataclass(frozen=True, slots=True)
class ProposalRecord:
    """A proposal and its votes; ``status`` is open, executed or rejected (expiry is read against a time)."""

    proposal_id: int
    action: str
    payload: str  # canonical JSON
    digest: str
    proposer: Address
    created: int
    expires: int
    policy_version: int
    approvals: tuple[str, ...]
    rejections: tuple[str, ...]
    status: str
    created_by: str
    executed_by: str | None = None

    def status_at(self, now: int) -> str:
        """``open``, ``executed``, ``rejected`` or ``expired`` (an open proposal past its expiry)."""
        return "expired" if self.status == "open" and now >= self.expires else self.status


def action_digest(action: str, payload: dict[str, JsonValue]) -> str:
    """``sha256:<hex>`` of the canonical JSON ``{"kind": action, "payload": payload}``: what members approve."""
    return "sha256:" + hashlib.sha256(canonical_json({"kind": action, "payload": payload})).hexdigest()


def policy(state: State) -> PolicyRecord | None:
    """The governance policy in force, or None."""
    record: PolicyRecord | None = current_policy(state)
    return record


def proposal(state: State, proposal_id: int) -> ProposalRecord | None:
    """Proposal ``proposal_id``, if any."""
    record: ProposalRecord | None = state.get(PROPOSALS, proposal_id)
    return record


def proposals(state: State) -> list[ProposalRecord]:
    """Every proposal, oldest first."""
    return sorted(state.rows(PROPOSALS).values(), key=lambda p: p.proposal_id)


# -- rules ------------------------------------------------------------------------------------------


@rule(GovernancePolicySet)
def _policy_set(state: State, event: Event, payload: GovernancePolicySet) -> None:
    current = policy(state)
    require_approval(state, GovernancePolicySet.kind)
    if current is None:
        require_role(state, event.actor, Role.ADMIN)
    if payload.threshold > len(payload.members):
        raise MalformedEvent(f"threshold {payload.threshold} is more than the {len(payload.members)} members")
    record = PolicyRecord(
        version=1 if current is None else current.version + 1,
        threshold=payload.threshold,
        members=tuple(sorted(payload.members)),
        actions=tuple(k for k in GOVERNABLE if k in payload.actions),
        set_by=event.id,
        time=event.time,
    )
    state.put(POLICY_TABLE, POLICY_KEY, record)


def _require_member(record: PolicyRecord, actor: str, what: str) -> None:
    if actor not in record.members:
        raise Unauthorized(f"{actor} is not a member of governance policy v{record.version} and cannot {what}")


def _dry_run(state: State, event: Event, action: str, data: dict[str, JsonValue]) -> None:
    """Raise what the embedded event's own rules would raise if it were executed now (nothing changes)."""
    with state.trial():
        _apply_embedded(state, event, action, data, event.actor)


def _apply_embedded(state: State, event: Event, action: str, data: dict[str, JsonValue], actor: Address) -> None:
    """Run the rule of ``action`` on ``data`` as ``actor`` at ``event``'s time, with ``event``'s id."""
    typed = validate_payload(action, data)
    inner = Event(ledger=event.ledger, kind=action, actor=actor, nonce=event.nonce, time=event.time, payload=data)
    inner.digest = event.digest  # the executing event's id is what records of the applied event point at
    inner._typed = typed
    with executing(action):
        rule_for(action)(state, inner, typed)


@rule(ProposalCreated)
def _proposal_created(state: State, event: Event, payload: ProposalCreated) -> None:
    record = policy(state)
    if record is None:
        raise InvalidTransition("no governance policy is set: submit the event directly")
    if not governs(record, payload.action):
        raise InvalidTransition(f"{payload.action} is not governed by policy v{record.version}: submit it directly")
    _require_member(record, event.actor, "propose")
    if payload.digest != action_digest(payload.action, payload.payload):
        raise MalformedEvent("the proposal's digest is not the digest of its action and payload")
    if not event.time < payload.expires <= event.time + MAX_TTL_MS:
        raise InvalidTransition(f"a proposal must expire after it is made and within {MAX_TTL_MS // 86_400_000} days")
    _dry_run(state, event, payload.action, payload.payload)
    number = state.get(POLICY_TABLE, "proposals", 0) + 1
    state.put(POLICY_TABLE, "proposals", number)
    state.put(
        PROPOSALS,
        number,
        ProposalRecord(
            proposal_id=number,
            action=payload.action,
            payload=canonical_json(payload.payload).decode(),
            digest=payload.digest,
            proposer=event.actor,
            created=event.time,
            expires=payload.expires,
            policy_version=record.version,
            approvals=(event.actor,),
            rejections=(),
            status="open",
            created_by=event.id,
        ),
    )


def _open_proposal(state: State, event: Event, number: int, digest: str, what: str) -> ProposalRecord:
    """Proposal ``number``, open and current, with ``digest``, voted on by a member of its policy."""
    found = proposal(state, number)
    if found is None:
        raise UnknownReference(f"proposal {number} does not exist")
    record = policy(state)
    assert record is not None  # a proposal exists only under a policy
    _require_member(record, event.actor, what)
    if found.status != "open":
        raise InvalidTransition(f"proposal {number} is {found.status} already")
    if event.time >= found.expires:
        raise InvalidTransition(f"proposal {number} expired at {found.expires} (ms); propose it again")
    if found.policy_version != record.version:
        raise InvalidTransition(
            f"proposal {number} was made under governance policy v{found.policy_version}; "
            f"v{record.version} is in force now: propose it again"
        )
    if digest != found.digest:
        raise MalformedEvent(f"the digest does not match proposal {number}'s action ({found.digest})")
    return found


@rule(ProposalApproved)
def _proposal_approved(state: State, event: Event, payload: ProposalApproved) -> None:
    found = _open_proposal(state, event, payload.proposal, payload.digest, "approve")
    if event.actor in found.approvals or event.actor in found.rejections:
        raise DuplicateRegistration(f"{event.actor} has voted on proposal {payload.proposal} already")
    state.put(PROPOSALS, found.proposal_id, replace(found, approvals=(*found.approvals, event.actor)))


@rule(ProposalRejected)
def _proposal_rejected(state: State, event: Event, payload: ProposalRejected) -> None:
    found = _open_proposal(state, event, payload.proposal, payload.digest, "reject")
    if event.actor in found.approvals or event.actor in found.rejections:
        raise DuplicateRegistration(f"{event.actor} has voted on proposal {payload.proposal} already")
    record = policy(state)
    assert record is not None
    rejections = (*found.rejections, event.actor)
    failed = len(record.members) - len(rejections) < record.threshold
    state.put(
        PROPOSALS, found.proposal_id, replace(found, rejections=rejections, status="rejected" if failed else "open")
    )


@rule(ProposalExecuted)
def _proposal_executed(state: State, event: Event, payload: ProposalExecuted) -> None:
    found = _open_proposal(state, event, payload.proposal, payload.digest, "execute")
    record = policy(state)
    assert record is not None
    if len(found.approvals) < record.threshold:
        raise InvalidTransition(
            f"proposal {found.proposal_id} has {len(found.approvals)} of the {record.threshold} approvals it needs"
        )
    from .._json import loads_bounded

    _apply_embedded(state, event, found.action, loads_bounded(found.payload), found.proposer)
    state.put(PROPOSALS, found.proposal_id, replace(found, status="executed", executed_by=event.id))


# -- EVM encodings (contracts/Governance.vy) --------------------------------------------------------------

ACTION_BITS: dict[str, int] = {kind: 1 << index for index, kind in enumerate(GOVERNABLE)}
"""Kind -> bit in Governance.vy's action masks (GovernancePolicySet 1, RoleGranted 2, ... TaskCreated 16)."""


def _mask(actions: Iterable[str]) -> int:
    return sum(ACTION_BITS[kind] for kind in set(actions))


def governed_call(ledger_id: str, action: str, data: dict[str, JsonValue], proposer: str, state: State) -> Any:
    """The exact call a proposal of ``action`` + ``data`` executes on chain: for a policy, the ABI encoding of
    (threshold, members ascending, action mask); else the Ledger call of the event with the proposer's address in
    its nonce word and an empty body (Governance.vy executes it with the proposer as actor)."""
    typed = validate_payload(action, data)
    if isinstance(typed, GovernancePolicySet):
        from eth_abi.abi import encode

        members = sorted(typed.members, key=address_order)
        return encode(["uint256", "address[]", "uint256"], [typed.threshold, members, _mask(typed.actions)])
    inner = Event(ledger=ledger_id, kind=action, actor=Address(proposer), nonce=0, time=0, payload=data)
    encode_call = encoder(action)
    assert encode_call is not None  # every governable kind but the policy is a Ledger call
    function, args = encode_call(inner, typed, state)
    return LedgerCall(function, [int(proposer, 16), *args[1:-1], b""])


@evm_call(GovernancePolicySet)
def _policy_call(event: Event, payload: GovernancePolicySet, state: State) -> Call:
    members = sorted(payload.members, key=address_order)
    return GOVERNANCE + "set_policy", [event.nonce, payload.threshold, members, _mask(payload.actions), event.body]


@evm_call(ProposalCreated)
def _propose_call(event: Event, payload: ProposalCreated, state: State) -> Call:
    call = governed_call(event.ledger, payload.action, payload.payload, event.actor, state)
    digest, bit = digest32(payload.digest), ACTION_BITS[payload.action]
    return GOVERNANCE + "propose", [event.nonce, bit, digest, call, event.time, payload.expires, event.body]


@evm_call(ProposalApproved)
def _approve_call(event: Event, payload: ProposalApproved, state: State) -> Call:
    return GOVERNANCE + "approve", [event.nonce, payload.proposal, digest32(payload.digest), event.time, event.body]


@evm_call(ProposalRejected)
def _reject_call(event: Event, payload: ProposalRejected, state: State) -> Call:
    return GOVERNANCE + "reject", [event.nonce, payload.proposal, digest32(payload.digest), event.time, event.body]


@evm_call(ProposalExecuted)
def _execute_call(event: Event, payload: ProposalExecuted, state: State) -> Call:
    """The proposal's call rebuilt from its record (the contract checks it is the proposed one, by its keccak)."""
    from .._json import loads_bounded

    found = proposal(state, payload.proposal)
    call: Any = b""
    if found is not None:
        call = governed_call(event.ledger, found.action, loads_bounded(found.payload), found.proposer, state)
    digest = digest32(payload.digest)
    return GOVERNANCE + "execute", [event.nonce, payload.proposal, digest, call, event.time, event.body]


__all__ = [
    "ACTION_BITS",
    "GOVERNABLE",
    "MAX_TTL_MS",
    "GovernancePolicySet",
    "PolicyRecord",
    "ProposalApproved",
    "ProposalCreated",
    "ProposalExecuted",
    "ProposalRecord",
    "ProposalRejected",
    "action_digest",
    "governed_call",
    "policy",
    "proposal",
    "proposals",
]
