"""Conformance step of the governance vocabulary: a 2-of-3 policy gates role grants and revocations; a proposal changes
nothing until a second member approves, then applies exactly its event; double votes, outsiders, early or expired
executions and direct events are refused without change; the policy's own change needs approval (and leaves
only policy changes governed, so later steps run ungoverned)."""

from __future__ import annotations

from typing import Any

import pytest

from ledgerml.errors import DuplicateRegistration, InvalidTransition, RejectedEvent, Unauthorized
from ledgerml.events import now_ms, sign_event
from ledgerml.governance.api import approve, execute, policy_payload, proposal_payload, propose, reject
from ledgerml.types import Role
from ledgerml.vocab.core import RoleGranted, RoleRevoked, roles_of
from ledgerml.vocab.governance import GovernancePolicySet, ProposalApproved, policy, proposal
from ledgerml.vocab.tokens import TokensMinted

KINDS = ("GovernancePolicySet", "ProposalCreated", "ProposalApproved", "ProposalRejected", "ProposalExecuted")


def _unchanged(ledger: Any, action: Any, error: type[RejectedEvent]) -> RejectedEvent:
    """Run ``action``, which must raise ``error`` and leave the log and the state as they were."""
    size, before = ledger.size, ledger.state().snapshot()
    with pytest.raises(error) as info:
        action()
    assert ledger.size == size and ledger.state().snapshot() == before
    return info.value


def run(ledger, cast) -> None:  # type: ignore[no-untyped-def]
    """The governance life cycle on one ledger; ends with a 1-of-1 policy governing only policy changes."""
    members = [cast.admin.address, cast.alice.address, cast.bob.address]
    ledger.submit(cast.admin, policy_payload(2, members))
    grant = RoleGranted(subject=cast.dave.address, role=Role.AUDITOR)
    error = _unchanged(ledger, lambda: ledger.submit(cast.admin, grant), Unauthorized)
    assert "governance policy" in str(error) and "propose it" in str(error)  # the contract's reason is static
    proposed = propose(ledger, cast.admin, grant)
    assert Role.AUDITOR not in roles_of(ledger.state(), cast.dave.address)
    _unchanged(ledger, lambda: approve(ledger, cast.admin, proposed.proposal), DuplicateRegistration)
    _unchanged(ledger, lambda: approve(ledger, cast.carol, proposed.proposal), Unauthorized)
    _unchanged(ledger, lambda: execute(ledger, cast.bob, proposed.proposal), InvalidTransition)
    vote = approve(ledger, cast.alice, proposed.proposal)
    assert vote.executed is not None and vote.execution_error is None
    assert Role.AUDITOR in roles_of(ledger.state(), cast.dave.address)
    assert ledger.get_event(vote.executed.event_id).event.kind == "ProposalExecuted"
    record = proposal(ledger.state(), proposed.proposal)
    assert record is not None and record.status == "executed" and record.approvals == (members[0], members[1])
    _unchanged(ledger, lambda: execute(ledger, cast.bob, proposed.proposal), InvalidTransition)
    _unchanged(ledger, lambda: propose(ledger, cast.admin, grant), DuplicateRegistration)  # its own rule refuses it
    _revoke_rejected_then_executed(ledger, cast)
    _expired(ledger, cast)
    _policy_change(ledger, cast)


def _revoke_rejected_then_executed(ledger: Any, cast: Any) -> None:
    """Two rejections of 3 members sink a 2-of-3 proposal; a second one executes by an explicit execution."""
    revoke = RoleRevoked(subject=cast.dave.address, role=Role.AUDITOR)
    sunk = propose(ledger, cast.admin, revoke)  # the proposer is the revocation's actor: an admin
    reject(ledger, cast.alice, sunk.proposal, "not this quarter")
    reject(ledger, cast.bob, sunk.proposal)
    found = proposal(ledger.state(), sunk.proposal)
    assert found is not None and found.status == "rejected"
    _unchanged(ledger, lambda: approve(ledger, cast.bob, sunk.proposal), InvalidTransition)
    passed = propose(ledger, cast.admin, revoke)
    approve(ledger, cast.bob, passed.proposal, execute=False)
    assert Role.AUDITOR in roles_of(ledger.state(), cast.dave.address)
    execute(ledger, cast.alice, passed.proposal)
    assert Role.AUDITOR not in roles_of(ledger.state(), cast.dave.address)


def _expired(ledger: Any, cast: Any) -> None:
    """A proposal whose expiry has passed can be neither approved nor executed."""
    made = now_ms() - 240_000  # 4 minutes ago (within the backdating bound), open for 1 minute
    created = proposal_payload(TokensMinted(amount=3, to=cast.dave.address), ttl_ms=60_000, now=made)
    event = sign_event(cast.admin, ledger.ledger_id, created, ledger.next_nonce(cast.admin.address), time_ms=made)
    ledger.append(event)
    number = max(ledger.state().rows("proposals"))
    digest = created.digest
    late = ProposalApproved(proposal=number, digest=digest)
    error = _unchanged(ledger, lambda: ledger.submit(cast.alice, late), InvalidTransition)
    assert "expired" in str(error)


def _policy_change(ledger: Any, cast: Any) -> None:
    """A direct policy change is refused; an approved one applies and governs only later policy changes."""
    change = policy_payload(1, [cast.admin.address], ["GovernancePolicySet"])
    assert isinstance(change, GovernancePolicySet)
    _unchanged(ledger, lambda: ledger.submit(cast.admin, change), Unauthorized)
    proposed = propose(ledger, cast.bob, change)
    approve(ledger, cast.alice, proposed.proposal)
    current = policy(ledger.state())
    assert current is not None and current.version == 2 and current.members == (cast.admin.address,)
    assert current.actions == ("GovernancePolicySet",)
    ledger.submit(cast.admin, RoleGranted(subject=cast.dave.address, role=Role.TRAINER))  # ungoverned again
