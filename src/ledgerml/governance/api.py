"""The governance workflow over any ledger backend: set a policy, propose an exact event, vote, execute."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import ConfigError, NotFound, RejectedEvent
from ..events import Payload, build_payload, now_ms
from ..identity import Identity
from ..ledger.base import LedgerBackend, Receipt
from ..vocab.governance import (
    GOVERNABLE,
    MAX_TTL_MS,
    GovernancePolicySet,
    ProposalApproved,
    ProposalCreated,
    ProposalExecuted,
    ProposalRecord,
    ProposalRejected,
    action_digest,
    policy,
    proposal,
    proposals,
)

DEFAULT_TTL_MS = 7 * 24 * 3600 * 1000
"""How long a proposal stays open unless told otherwise (7 days)."""


@dataclass(frozen=True, slots=True)
class Proposed:
    """A recorded proposal: its number, the event that made it, the digest members approve, its expiry."""

    proposal: int
    receipt: Receipt
    kind: str
    digest: str
    expires: int

    def to_dict(self) -> dict[str, object]:
        """JSON data: ``{"proposal": ID, "kind", "digest", "expires", "seq", "id"}``."""
        return {
            "proposal": self.proposal,
            "kind": self.kind,
            "digest": self.digest,
            "expires": self.expires,
            "seq": self.receipt.seq,
            "id": self.receipt.event_id,
        }


@dataclass(frozen=True, slots=True)
class Vote:
    """A recorded approval, and its execution when it reached the threshold (or why the execution was refused)."""

    proposal: int
    receipt: Receipt
    executed: Receipt | None = None
    execution_error: str | None = None


def policy_payload(threshold: int, members: Sequence[str], actions: Sequence[str] | None = None) -> GovernancePolicySet:
    """A ``GovernancePolicySet`` from outside values (one ``MalformedEvent`` line for a bad one)."""
    return build_payload(
        GovernancePolicySet,
        threshold=threshold,
        members=list(members),
        actions=list(GOVERNABLE if actions is None else actions),
    )


def proposal_payload(payload: Payload, *, ttl_ms: int = DEFAULT_TTL_MS, now: int | None = None) -> ProposalCreated:
    """The ``ProposalCreated`` that carries ``payload`` exactly, expiring ``ttl_ms`` from ``now``."""
    if not 0 < ttl_ms <= MAX_TTL_MS:
        raise ConfigError(f"a proposal must expire within 1 ms to {MAX_TTL_MS // 86_400_000} days, not {ttl_ms} ms")
    data = payload.model_dump(mode="json")
    expires = (now_ms() if now is None else now) + ttl_ms
    return build_payload(
        ProposalCreated,
        "proposal",
        action=payload.kind,
        payload=data,
        digest=action_digest(payload.kind, data),
        expires=expires,
    )


def propose(ledger: LedgerBackend, identity: Identity, payload: Payload, *, ttl_ms: int = DEFAULT_TTL_MS) -> Proposed:
    """Record a proposal of ``payload`` signed by ``identity`` (its first approval); the event's rules are tried
    first, so a proposal its own rules would refuse now is refused with their error."""
    created = proposal_payload(payload, ttl_ms=ttl_ms)
    receipt = ledger.submit(identity, created)
    found = next(p for p in reversed(proposals(ledger.state())) if p.created_by == receipt.event_id)
    return Proposed(found.proposal_id, receipt, created.action, created.digest, created.expires)


def require_proposal(ledger: LedgerBackend, number: int) -> ProposalRecord:
    """Proposal ``number`` or ``NotFound``."""
    found = proposal(ledger.state(), number)
    if found is None:
        raise NotFound(f"proposal {number} does not exist")
    return found


def approve(ledger: LedgerBackend, identity: Identity, number: int, *, execute: bool = True) -> Vote:
    """Approve proposal ``number``; when this approval reaches the threshold (and ``execute``), execute it in the
    same batch. If the execution alone is refused, the approval is still recorded and the reason returned."""
    found = require_proposal(ledger, number)
    approval = ProposalApproved(proposal=number, digest=found.digest)
    record = policy(ledger.state())
    if not execute or record is None or len(found.approvals) + 1 < record.threshold:
        return Vote(number, ledger.submit(identity, approval))
    try:
        voted, ran = ledger.submit_batch(identity, [approval, ProposalExecuted(proposal=number, digest=found.digest)])
    except RejectedEvent as exc:
        receipt = ledger.submit(identity, approval)  # raises the approval's own error if that was the problem
        return Vote(number, receipt, None, str(exc))
    return Vote(number, voted, ran)


def reject(ledger: LedgerBackend, identity: Identity, number: int, reason: str = "") -> Receipt:
    """Reject proposal ``number`` (it fails once the threshold can no longer be reached)."""
    found = require_proposal(ledger, number)
    vote = build_payload(ProposalRejected, "rejection", proposal=number, digest=found.digest, reason=reason)
    return ledger.submit(identity, vote)


def execute(ledger: LedgerBackend, identity: Identity, number: int) -> Receipt:
    """Apply approved proposal ``number`` (signed by a member)."""
    found = require_proposal(ledger, number)
    return ledger.submit(identity, ProposalExecuted(proposal=number, digest=found.digest))


__all__ = [
    "DEFAULT_TTL_MS",
    "Proposed",
    "Vote",
    "approve",
    "execute",
    "policy_payload",
    "proposal_payload",
    "propose",
    "reject",
    "require_proposal",
]
