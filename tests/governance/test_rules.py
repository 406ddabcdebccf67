"""Governance rules on the embedded ledger: policy checks, exact execution, stale and refused proposals."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledgerml import Identity, Ledger, sqlite_url
from ledgerml.errors import ConfigError, DuplicateRegistration, InvalidTransition, MalformedEvent, Unauthorized
from ledgerml.governance.api import approve, execute, policy_payload, proposal_payload, propose
from ledgerml.ledger.base import LedgerBackend
from ledgerml.types import Role
from ledgerml.vocab.core import RoleGranted, roles_of
from ledgerml.vocab.governance import ProposalCreated, action_digest, policy, proposal
from ledgerml.vocab.tasks import TaskCreated, task
from ledgerml.vocab.tokens import TokensMinted, balance

from ..conftest import make_identity

M = "sha256:" + "ab" * 32


@pytest.fixture
def carol() -> Identity:
    return make_identity("carol", 4000)


@pytest.fixture
def governed(tmp_path: Path, admin: Identity, alice: Identity, bob: Identity) -> LedgerBackend:
    """A ledger with a 2-of-3 policy over every governable kind (members admin, alice, bob)."""
    ledger = Ledger.create(sqlite_url(tmp_path / "g.db", block_size=4), admin=admin, name="gov")
    ledger.submit(admin, RoleGranted(subject=admin.address, role=Role.AGGREGATOR))
    ledger.submit(admin, policy_payload(2, [admin.address, alice.address, bob.address]))
    return ledger


def _unchanged(ledger: LedgerBackend, action, error):  # type: ignore[no-untyped-def]
    size, before = ledger.size, ledger.state().snapshot()
    with pytest.raises(error) as info:
        action()
    assert ledger.size == size and ledger.state().snapshot() == before
    assert "\n" not in str(info.value)
    return info.value


@pytest.mark.parametrize(
    ("threshold", "members", "actions", "message"),
    [
        (0, 2, None, "threshold"),
        (65, 2, None, "threshold"),
        (1, 2, ["RoleGranted"], "must govern its own changes"),
        (1, 2, ["GovernancePolicySet", "DatasetRegistered"], "actions"),
    ],
)
def test_a_bad_policy_is_one_line(threshold: int, members: int, actions: list[str] | None, message: str) -> None:
    people = [make_identity(f"m{i}", 50 + i).address for i in range(members)]
    with pytest.raises(MalformedEvent, match=message):
        policy_payload(threshold, people, actions)


@pytest.mark.parametrize(("threshold", "members"), [(3, 2), (1, 0)])
def test_a_threshold_above_the_members_is_refused_by_the_rule(
    tmp_path: Path, admin: Identity, threshold: int, members: int
) -> None:
    ledger = Ledger.create(sqlite_url(tmp_path / "t.db"), admin=admin, name="t")
    people = [make_identity(f"m{i}", 50 + i).address for i in range(members)]
    error = _unchanged(ledger, lambda: ledger.submit(admin, policy_payload(threshold, people)), MalformedEvent)
    assert f"threshold {threshold} is more than the {members} members" in str(error)


def test_repeated_members_are_refused(alice: Identity) -> None:
    with pytest.raises(MalformedEvent, match="must not repeat"):
        policy_payload(1, [alice.address, alice.address])


def test_only_an_admin_sets_the_first_policy(tmp_path: Path, admin: Identity, alice: Identity) -> None:
    ledger = Ledger.create(sqlite_url(tmp_path / "p.db"), admin=admin, name="p")
    _unchanged(ledger, lambda: ledger.submit(alice, policy_payload(1, [alice.address])), Unauthorized)
    _unchanged(ledger, lambda: propose(ledger, admin, TokensMinted(amount=1, to=alice.address)), InvalidTransition)
    ledger.submit(admin, TokensMinted(amount=1, to=alice.address))  # no policy: one admin acts alone, as before
    assert balance(ledger.state(), alice.address) == 1


def test_a_proposal_executes_exactly_the_proposed_event(
    governed: LedgerBackend, admin: Identity, bob: Identity
) -> None:
    created = TaskCreated(task_id="t1", name="t1", model_spec=M, initial_model=M, rounds=3, rule="median")
    _unchanged(governed, lambda: governed.submit(admin, created), Unauthorized)
    proposed = propose(governed, admin, created)
    assert task(governed.state(), "t1") is None
    vote = approve(governed, bob, proposed.proposal)
    assert vote.executed is not None
    record = task(governed.state(), "t1")
    assert record is not None and record.aggregator == admin.address and record.rule == "median"
    assert record.created_by == vote.executed.event_id  # the record points at the stored ProposalExecuted
    found = proposal(governed.state(), proposed.proposal)
    assert found is not None and found.digest == action_digest("TaskCreated", created.model_dump(mode="json"))
    assert governed.verify().ok


def test_an_execution_its_own_rule_refuses_changes_nothing(
    governed: LedgerBackend, admin: Identity, alice: Identity, bob: Identity
) -> None:
    created = TaskCreated(task_id="t2", name="t2", model_spec=M, initial_model=M, rounds=1, rule="fedavg")
    first, second = propose(governed, admin, created), propose(governed, admin, created)
    approve(governed, alice, first.proposal)
    approve(governed, alice, second.proposal, execute=False)
    error = _unchanged(governed, lambda: execute(governed, bob, second.proposal), DuplicateRegistration)
    assert "exists already" in str(error)
    vote = approve(governed, bob, second.proposal)  # the approval lands; its execution is refused and reported
    assert vote.executed is None and vote.execution_error is not None and "exists already" in vote.execution_error


def test_a_policy_change_makes_open_proposals_stale(
    governed: LedgerBackend, admin: Identity, alice: Identity, bob: Identity, carol: Identity
) -> None:
    pending = propose(governed, admin, TokensMinted(amount=5, to=carol.address))
    change = propose(governed, alice, policy_payload(2, [admin.address, alice.address, carol.address]))
    approve(governed, bob, change.proposal)
    current = policy(governed.state())
    assert current is not None and current.version == 2 and carol.address in current.members
    error = _unchanged(governed, lambda: approve(governed, alice, pending.proposal), InvalidTransition)
    assert "policy v1" in str(error) and "v2 is in force" in str(error)
    _unchanged(governed, lambda: execute(governed, alice, change.proposal), InvalidTransition)  # executed already
    assert roles_of(governed.state(), carol.address) == frozenset()


def test_a_digest_that_does_not_match_is_refused(governed: LedgerBackend, admin: Identity, alice: Identity) -> None:
    honest = proposal_payload(TokensMinted(amount=5, to=alice.address))
    forged = ProposalCreated(
        action="TokensMinted", payload={**honest.payload, "amount": 500}, digest=honest.digest, expires=honest.expires
    )
    _unchanged(governed, lambda: governed.submit(admin, forged), MalformedEvent)


def test_expiry_bounds(governed: LedgerBackend, admin: Identity, alice: Identity) -> None:
    with pytest.raises(ConfigError):
        proposal_payload(TokensMinted(amount=5, to=alice.address), ttl_ms=0)
    past = proposal_payload(TokensMinted(amount=5, to=alice.address), ttl_ms=1, now=0)
    _unchanged(governed, lambda: governed.submit(admin, past), InvalidTransition)


def test_the_executed_event_leaves_the_state_a_direct_one_would(
    tmp_path: Path, governed: LedgerBackend, admin: Identity, bob: Identity
) -> None:
    from dataclasses import replace

    created = TaskCreated(
        task_id="same", name="same", model_spec=M, initial_model=M, rounds=4, rule="trimmed_mean", min_stake=3
    )
    plain = Ledger.create(sqlite_url(tmp_path / "plain.db"), admin=admin, name="plain")
    plain.submit(admin, RoleGranted(subject=admin.address, role=Role.AGGREGATOR))
    plain.submit(admin, created)
    approve(governed, bob, propose(governed, admin, created).proposal)
    direct, executed = task(plain.state(), "same"), task(governed.state(), "same")
    assert direct is not None and executed is not None
    assert replace(executed, created_by=direct.created_by) == direct
    assert governed.state().get("task_progress", "same") == plain.state().get("task_progress", "same")
