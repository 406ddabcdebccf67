"""The EVM backend refuses every governance kind (documented: governance is not in Ledger.vy yet), in one line."""

from __future__ import annotations

import pytest

from ledgerml.errors import UnknownEventKind
from ledgerml.events import sign_event
from ledgerml.governance.api import policy_payload, proposal_payload
from ledgerml.ledger.evm.calls import event_call
from ledgerml.state import State
from ledgerml.types import Role
from ledgerml.vocab.core import RoleGranted
from ledgerml.vocab.evm import encoder, off_chain_kinds
from ledgerml.vocab.governance import ProposalApproved, ProposalExecuted, ProposalRejected

from ..conftest import make_identity

KINDS = ("GovernancePolicySet", "ProposalCreated", "ProposalApproved", "ProposalRejected", "ProposalExecuted")


def test_every_governance_kind_is_declared_off_chain_with_its_reason() -> None:
    reasons = off_chain_kinds()
    assert all(encoder(kind) is None and "not in Ledger.vy" in reasons[kind] for kind in KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_the_evm_call_translation_refuses_it(kind: str) -> None:
    admin = make_identity("admin", 1000)
    digest = "sha256:" + "0" * 64
    payload = {
        "GovernancePolicySet": policy_payload(1, [admin.address]),
        "ProposalCreated": proposal_payload(RoleGranted(subject=admin.address, role=Role.TRAINER)),
        "ProposalApproved": ProposalApproved(proposal=1, digest=digest),
        "ProposalRejected": ProposalRejected(proposal=1, digest=digest),
        "ProposalExecuted": ProposalExecuted(proposal=1, digest=digest),
    }[kind]
    event = sign_event(admin, "ab" * 16, payload, 1)
    with pytest.raises(UnknownEventKind, match=f"no contract call for event kind '{kind}'"):
        event_call(event, State())
