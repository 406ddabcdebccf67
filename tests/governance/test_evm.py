"""The EVM backend enforces governance in its contracts (Governance.vy, and Ledger.vy's governed calls), on py-evm
in process with ``precheck=False`` so every decision below is the contracts': a direct grant under a 2-of-3 policy
reverts with one line and changes nothing; a proposal changes nothing until the 2nd approval executes exactly its
call; double approvals, outsiders, expired proposals, a call other than the proposed one and direct ``record`` calls
are refused; a fresh reader rebuilds the same governance state from the chain and ``verify`` passes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ledgerml.errors import (
    DuplicateRegistration,
    InvalidTransition,
    MalformedEvent,
    RejectedEvent,
    Unauthorized,
    UnknownEventKind,
)
from ledgerml.events import now_ms, sign_event
from ledgerml.governance.api import approve, execute, policy_payload, proposal_payload, propose
from ledgerml.identity import Identity
from ledgerml.ledger.evm.calls import event_call
from ledgerml.types import Role
from ledgerml.vocab.core import RoleGranted, roles_of
from ledgerml.vocab.evm import GOVERNANCE, LedgerCall
from ledgerml.vocab.governance import ProposalApproved, ProposalExecuted, policy, proposal, proposals
from ledgerml.vocab.tokens import TokensMinted

from ..conftest import make_identity

GAS = 8_000_000  # explicit gas: py-evm's estimation would double the time


@pytest.fixture(scope="module")
def people() -> dict[str, Identity]:
    return {name: make_identity(name, seed) for name, seed in (("admin", 1000), ("alice", 2000), ("bob", 3000))} | {
        "eve": make_identity("eve", 9001),
        "dave": make_identity("dave", 9002),
    }


@pytest.fixture(scope="module")
def chain(people: dict[str, Identity]) -> Iterator[Any]:
    """One py-evm ledger (deploying is the slow part) under a 2-of-3 policy of admin, alice and bob (the contracts
    decide: precheck off); each test makes its own proposals."""
    from web3 import EthereumTesterProvider, Web3

    from ledgerml.ledger.evm.backend import EvmLedger, deploy, fund

    w3 = Web3(EthereumTesterProvider())
    fund(w3, [p.address for p in people.values()])
    deployment = deploy(w3, people["admin"], gas_limit=GAS)
    ledger = EvmLedger(
        w3, deployment, validator=people["admin"], signers=list(people.values()), precheck=False, gas_limit=GAS
    )
    members = [people[n].address for n in ("admin", "alice", "bob")]
    ledger.submit(people["admin"], policy_payload(2, members))
    yield ledger


def _unchanged(ledger: Any, action: Any, error: type[RejectedEvent]) -> str:
    """Run ``action``: it must raise ``error`` (a one-line contract reason) and land no transaction (py-evm mines one
    block per transaction, so an unchanged block number means unchanged storage)."""
    size, block = ledger.size, ledger.w3.eth.block_number
    with pytest.raises(error) as info:
        action()
    message = str(info.value)
    assert "\n" not in message and "ledger contract" in message
    assert ledger.size == size and ledger.w3.eth.block_number == block
    return message


def test_a_direct_grant_reverts_and_the_second_approval_executes_it(chain: Any, people: dict[str, Identity]) -> None:
    ledger, dave = chain, people["dave"]
    grant = RoleGranted(subject=dave.address, role=Role.AUDITOR)
    assert ledger.governance.functions.threshold().call() == 2 and ledger.contract.functions.governed().call() == 31
    message = _unchanged(ledger, lambda: ledger.submit(people["admin"], grant), Unauthorized)
    assert "governance policy needs approvals" in message
    made = propose(ledger, people["admin"], grant)
    assert ledger.contract.functions.roles(dave.address).call() == 0  # a proposal changes nothing
    _unchanged(ledger, lambda: approve(ledger, people["admin"], made.proposal, execute=False), DuplicateRegistration)
    _unchanged(ledger, lambda: approve(ledger, people["eve"], made.proposal, execute=False), Unauthorized)
    _unchanged(ledger, lambda: execute(ledger, people["bob"], made.proposal), InvalidTransition)  # 1 of 2
    approve(ledger, people["alice"], made.proposal, execute=False)
    _unchanged(ledger, lambda: approve(ledger, people["alice"], made.proposal, execute=False), DuplicateRegistration)
    execute(ledger, people["bob"], made.proposal)
    auditor = 1 << list(Role).index(Role.AUDITOR)
    assert ledger.contract.functions.roles(dave.address).call() == auditor
    assert Role.AUDITOR in roles_of(ledger.state(), dave.address)
    on_chain = ledger.governance.functions.proposals(made.proposal).call()
    assert on_chain[3] == people["admin"].address and on_chain[6] == 2 and on_chain[8] == 2  # proposer, 2, executed
    _unchanged(ledger, lambda: execute(ledger, people["bob"], made.proposal), InvalidTransition)  # executed already
    _rebuilt_by_a_fresh_reader(ledger)


def _rebuilt_by_a_fresh_reader(ledger: Any) -> None:
    from ledgerml.ledger.evm.backend import EvmLedger

    fresh = EvmLedger(ledger.w3, ledger.deployment, gas_limit=GAS)
    assert fresh.skipped == [] and proposals(fresh.state()) == proposals(ledger.state())
    assert policy(fresh.state()) == policy(ledger.state())
    report = fresh.verify()
    assert report.ok, report.notes


def test_an_expired_proposal_cannot_be_approved_or_executed(chain: Any, people: dict[str, Identity]) -> None:
    ledger, admin = chain, people["admin"]
    made = now_ms() - 240_000  # 4 minutes ago (within the backdating bound), open for 1 minute
    created = proposal_payload(TokensMinted(amount=3, to=people["dave"].address), ttl_ms=60_000, now=made)
    ledger.append(sign_event(admin, ledger.ledger_id, created, ledger.next_nonce(admin.address), time_ms=made))
    number = max(ledger.state().rows("proposals"))
    late = ProposalApproved(proposal=number, digest=created.digest)
    assert "expired" in _unchanged(ledger, lambda: ledger.submit(people["alice"], late), InvalidTransition)
    run = ProposalExecuted(proposal=number, digest=created.digest)
    assert "expired" in _unchanged(ledger, lambda: ledger.submit(people["bob"], run), InvalidTransition)


def test_only_the_proposed_call_executes_and_only_governance_records(chain: Any, people: dict[str, Identity]) -> None:
    ledger, admin, bob = chain, people["admin"], people["bob"]
    made = propose(ledger, admin, TokensMinted(amount=5, to=people["dave"].address))
    approve(ledger, people["alice"], made.proposal, execute=False)
    run = ProposalExecuted(proposal=made.proposal, digest=made.digest)
    event = sign_event(bob, ledger.ledger_id, run, ledger.next_nonce(bob.address))
    function, args = event_call(event, ledger.state())
    assert function == GOVERNANCE + "execute" and isinstance(args[3], LedgerCall)
    args[3] = LedgerCall(args[3].function, [*args[3].args[:3], 500, b""])  # 500 tokens, not the 5 proposed

    def send(who: Identity, call: tuple[str, list[Any]]) -> Any:
        to, data = ledger.encode_call(*call)
        return ledger._sender.send(who, {"to": to, "data": data})

    message = _unchanged(ledger, lambda: send(bob, (function, args)), MalformedEvent)
    assert "not the proposed one" in message
    body = sign_event(admin, ledger.ledger_id, RoleGranted(subject=admin.address, role=Role.TRAINER), 0).body
    record = ("record", [admin.address, ledger.next_nonce(admin.address), b"RoleGranted", body, 0])
    assert "only the governance contract" in _unchanged(ledger, lambda: send(people["eve"], record), Unauthorized)
    for outsider_call in (
        (GOVERNANCE + "set_ledger", [people["eve"].address]),  # once, by the deployer
        (GOVERNANCE + "probe", [b""]),  # only the governance contract probes
    ):
        _unchanged(ledger, lambda c=outsider_call: send(people["eve"], c), Unauthorized)
    execute(ledger, bob, made.proposal)
    assert ledger.token.functions.balanceOf(people["dave"].address).call() == 5
    found = proposal(ledger.state(), made.proposal)
    assert found is not None and found.status == "executed"


def test_a_deployment_without_the_governance_contract_refuses_governance_kinds(
    chain: Any, people: dict[str, Identity]
) -> None:
    from dataclasses import replace

    from ledgerml.ledger.evm.backend import EvmLedger

    old = EvmLedger(
        chain.w3, replace(chain.deployment, governance=""), signers=list(people.values()), precheck=False, gas_limit=GAS
    )
    assert policy(old.state()) == policy(chain.state())  # its readers still replay the bodies
    with pytest.raises(UnknownEventKind, match="no governance contract"):
        propose(old, people["admin"], RoleGranted(subject=people["dave"].address, role=Role.AUDITOR))
