"""The governance encoders (pure, no chain): a proposal's call is rebuilt byte for byte at execution (the contract
compares their keccak), acts for the proposer with an empty body, and a policy is encoded with its members in the
contract's order and its actions as the contract's bit mask."""

from __future__ import annotations

import pytest

from ledgerml.events import Payload, now_ms, sign_event
from ledgerml.governance.api import policy_payload, proposal_payload
from ledgerml.ledger.evm.calls import event_call
from ledgerml.state import State, apply
from ledgerml.types import Role
from ledgerml.vocab.core import LedgerCreated, RoleGranted, RoleRevoked
from ledgerml.vocab.evm import GOVERNANCE, LedgerCall, address_order
from ledgerml.vocab.governance import ACTION_BITS, GOVERNABLE, ProposalExecuted
from ledgerml.vocab.tasks import TaskCreated
from ledgerml.vocab.tokens import TokensMinted

from ..conftest import make_identity

LEDGER = "cd" * 16
PEOPLE = [make_identity(f"m{i}", 700 + i) for i in range(3)]
M = "sha256:" + "1" * 64


def _state() -> tuple[State, int]:
    """A state with a 2-of-3 policy over every governable kind; the admin (PEOPLE[0]) is also an aggregator."""
    state, time = State(), now_ms()
    admin = PEOPLE[0]
    events = [
        LedgerCreated(name="enc", admin=admin.address, validator=admin.address),
        RoleGranted(subject=admin.address, role=Role.AGGREGATOR),
        policy_payload(2, [p.address for p in PEOPLE]),
    ]
    for nonce, payload in enumerate(events):
        apply(state, sign_event(admin, LEDGER, payload, nonce, time_ms=time + nonce))
    return state, len(events)


@pytest.mark.parametrize(
    "payload",
    [
        RoleGranted(subject=PEOPLE[1].address, role=Role.AUDITOR),
        RoleRevoked(subject=PEOPLE[0].address, role=Role.AGGREGATOR),
        TokensMinted(amount=7, to=PEOPLE[2].address),
        TaskCreated(task_id="t", name="t", model_spec=M, initial_model=M, rounds=2, rule="fedavg", slash_on=["x"]),
        policy_payload(1, [PEOPLE[2].address, PEOPLE[0].address], ["GovernancePolicySet", "TokensMinted"]),
    ],
    ids=lambda p: p.kind,
)
def test_the_executed_call_is_the_proposed_one(payload: Payload) -> None:
    state, nonce = _state()
    admin = PEOPLE[0]
    created = sign_event(admin, LEDGER, proposal_payload(payload), nonce)
    function, args = event_call(created, state)
    assert function == GOVERNANCE + "propose" and args[1] == ACTION_BITS[payload.kind]
    apply(state, created)
    run = sign_event(PEOPLE[1], LEDGER, ProposalExecuted(proposal=1, digest=created.payload["digest"]), 0)
    executed, exec_args = event_call(run, state)
    assert executed == GOVERNANCE + "execute" and exec_args[3] == args[3]  # the same call, rebuilt from the record
    call = args[3]
    if isinstance(call, LedgerCall):  # acts for the proposer (nonce word), no body: Governance.vy executes it
        assert call.args[0] == int(admin.address, 16) and call.args[-1] == b""
    else:
        from eth_abi.abi import decode

        threshold, members, mask = decode(["uint256", "address[]", "uint256"], call)
        assert threshold == 1 and mask == ACTION_BITS["GovernancePolicySet"] | ACTION_BITS["TokensMinted"]
        assert [int(m, 16) for m in members] == sorted(address_order(p.address) for p in (PEOPLE[0], PEOPLE[2]))


def test_every_governable_kind_has_a_bit_and_the_policy_call_sorts_members() -> None:
    assert sorted(ACTION_BITS.values()) == [1, 2, 4, 8, 16] and set(ACTION_BITS) == set(GOVERNABLE)
    state = State()
    members = [p.address for p in PEOPLE]
    event = sign_event(PEOPLE[0], LEDGER, policy_payload(2, members), 1)
    function, args = event_call(event, state)
    assert function == GOVERNANCE + "set_policy" and args[1] == 2 and args[3] == 31
    assert args[2] == sorted(members, key=address_order) and args[-1] == event.body
