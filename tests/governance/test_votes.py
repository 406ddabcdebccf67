"""Property: any sequence of votes and executions on one proposal gives the status a plain model predicts, a member
votes at most once, and the proposed role grant is applied exactly when an execution with enough approvals runs."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerml.errors import DuplicateRegistration, InvalidTransition, RejectedEvent, Unauthorized
from ledgerml.events import Payload, now_ms, sign_event
from ledgerml.governance.api import policy_payload, proposal_payload
from ledgerml.identity import Identity
from ledgerml.state import State, apply
from ledgerml.types import Role
from ledgerml.vocab.core import LedgerCreated, RoleGranted, roles_of
from ledgerml.vocab.governance import ProposalApproved, ProposalExecuted, ProposalRejected, proposal

from ..conftest import make_identity

LEDGER = "ab" * 16
PEOPLE = [make_identity(f"p{i}", 900 + i) for i in range(5)]
SUBJECT = make_identity("subject", 990)


class Chain:
    """A state with its own nonces and a clock that moves 1 ms per event."""

    def __init__(self) -> None:
        self.state, self.time = State(), now_ms()

    def add(self, who: Identity, payload: Payload) -> None:
        self.time += 1
        nonce = self.state.get("nonces", who.address, 0)
        apply(self.state, sign_event(who, LEDGER, payload, nonce, time_ms=self.time), check_signature=False)


@settings(max_examples=40, deadline=None)
@given(
    members=st.integers(1, 4),
    threshold_gap=st.integers(0, 3),
    steps=st.lists(st.tuples(st.sampled_from(["approve", "reject", "execute"]), st.integers(0, 4)), max_size=8),
)
def test_votes_follow_the_model(members: int, threshold_gap: int, steps: list[tuple[str, int]]) -> None:
    threshold = max(1, members - threshold_gap)
    chain = Chain()
    admin = PEOPLE[0]
    chain.add(admin, LedgerCreated(name="votes", admin=admin.address, validator=admin.address))
    chain.add(admin, policy_payload(threshold, [p.address for p in PEOPLE[:members]]))
    grant = RoleGranted(subject=SUBJECT.address, role=Role.AUDITOR)
    created = proposal_payload(grant, now=chain.time)
    chain.add(admin, created)
    approvals, rejections, status = {admin.address}, set(), "open"
    for op, index in steps:
        who = PEOPLE[index]
        payload = {"approve": ProposalApproved, "reject": ProposalRejected, "execute": ProposalExecuted}[op](
            proposal=1, digest=created.digest
        )
        expected: type[RejectedEvent] | None = None
        if index >= members:
            expected = Unauthorized
        elif status != "open":
            expected = InvalidTransition
        elif op != "execute" and who.address in approvals | rejections:
            expected = DuplicateRegistration
        elif op == "execute" and len(approvals) < threshold:
            expected = InvalidTransition
        before = chain.state.snapshot()
        try:
            chain.add(who, payload)
        except RejectedEvent as exc:
            assert expected is not None and isinstance(exc, expected), (op, index, exc)
            assert chain.state.snapshot() == before
            continue
        assert expected is None, (op, index)
        if op == "approve":
            approvals.add(who.address)
        elif op == "reject":
            rejections.add(who.address)
            status = "rejected" if members - len(rejections) < threshold else "open"
        else:
            status = "executed"
    found = proposal(chain.state, 1)
    assert found is not None and found.status == status
    assert set(found.approvals) == approvals and len(found.approvals) == len(approvals)
    assert set(found.rejections) == rejections
    assert (Role.AUDITOR in roles_of(chain.state, SUBJECT.address)) == (status == "executed")
