"""``ledgerml governance`` and the ``--propose`` options: a 2-of-3 policy over a home, end to end in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledgerml import Ledger, sqlite_url
from ledgerml.types import Role
from ledgerml.vocab.core import roles_of

from .._cli import one_error_line, snapshot


@pytest.fixture
def governed(cli, home: Path) -> Path:  # type: ignore[no-untyped-def]
    """The home with identities admin, alice, bob, carol and a 2-of-3 policy (admin, alice, bob)."""
    assert cli("identity", "create", "carol", "--unencrypted").code == 0
    set_policy = cli("governance", "policy", "set", "--threshold", "2", "--members", "admin,alice,bob", "--json")
    assert set_policy.code == 0, set_policy.err
    return home


def _carol_roles(home: Path) -> frozenset[Role]:
    with Ledger.open(sqlite_url(home / "ledger.db")) as ledger:
        state = ledger.state()
        return roles_of(state, next(a for a, n in names_in(home).items() if n == "carol"))


def names_in(home: Path) -> dict[str, str]:
    from ledgerml.documents import names
    from ledgerml.home import Home

    return dict(names(Home(home)))


def test_one_admins_grant_is_a_proposal_until_a_second_member_approves(cli, governed: Path) -> None:  # type: ignore[no-untyped-def]
    before = snapshot(governed)
    alone = cli("role", "grant", "trainer", "carol")
    assert alone.code == 14 and one_error_line(alone.err) and "governance policy v1" in alone.err
    assert snapshot(governed) == before
    proposed = cli("role", "grant", "trainer", "carol", "--propose", "--json")
    assert proposed.code == 0, proposed.err
    number = proposed.json()["proposal"]
    assert _carol_roles(governed) == frozenset()
    listed = cli("governance", "list", "--json").json()["proposals"][0]
    assert listed["status"] == "open" and [a["name"] for a in listed["approvals"]] == ["admin"]
    assert listed["payload"]["role"] == "trainer"
    again = cli("governance", "approve", str(number), "--as", "admin")
    assert again.code == 17 and one_error_line(again.err)
    outsider = cli("governance", "approve", str(number), "--as", "carol")
    assert outsider.code == 14 and one_error_line(outsider.err)
    approved = cli("governance", "approve", str(number), "--as", "alice", "--json")
    assert approved.code == 0 and approved.json()["executed"] is not None
    assert _carol_roles(governed) == {Role.TRAINER}
    shown = cli("governance", "show", str(number)).json()
    assert shown["status"] == "executed" and [a["name"] for a in shown["approvals"]] == ["admin", "alice"]
    assert shown == cli("governance", "list", "--json").json()["proposals"][0]
    tasks = cli("chain", "log", "--json")
    assert tasks.code == 0 and "ProposalExecuted" in tasks.out


def test_mint_propose_reject_and_policy_change(cli, governed: Path) -> None:  # type: ignore[no-untyped-def]
    mint = cli("token", "mint", "5", "--to", "carol", "--propose", "--json")
    assert mint.code == 0, mint.err
    number = str(mint.json()["proposal"])
    assert cli("governance", "reject", number, "--as", "alice", "--reason", "no").code == 0
    sunk = cli("governance", "reject", number, "--as", "bob", "--json")
    assert sunk.code == 0 and sunk.json()["status"] == "rejected"
    before = snapshot(governed)
    alone = cli("governance", "policy", "set", "--threshold", "1", "--members", "admin")
    assert alone.code == 14 and one_error_line(alone.err) and snapshot(governed) == before
    change = cli("governance", "policy", "set", "--threshold", "1", "--members", "admin", "--propose", "--json")
    assert change.code == 0, change.err
    assert cli("governance", "approve", str(change.json()["proposal"]), "--as", "bob").code == 0
    policy = cli("governance", "policy", "show", "--json").json()["policy"]
    assert policy["version"] == 2 and policy["threshold"] == 1 and [m["name"] for m in policy["members"]] == ["admin"]


@pytest.mark.parametrize(
    "args",
    [
        ("governance", "policy", "set", "--threshold", "4", "--members", "admin,alice,bob"),
        ("governance", "policy", "set", "--threshold", "1", "--members", "admin,nobody"),
        ("governance", "policy", "set", "--threshold", "1", "--members", ","),
        ("governance", "policy", "set", "--threshold", "1", "--members", "admin", "--actions", "RoleGranted"),
        ("governance", "propose", "DatasetRegistered", "--payload", "{}"),
        ("governance", "propose", "TokensMinted", "--payload", "[1"),
        ("governance", "propose", "TokensMinted", "--payload", "[]"),
        ("governance", "propose", "TokensMinted", "--payload", '{"amount": 1, "to": "nobody"}'),
        ("governance", "propose", "TokensMinted", "--payload", '{"amount": 1, "payload_type": 2}'),
        ("governance", "propose", "TokensMinted", "--payload", '{"amount": 0, "to": null}'),
        ("governance", "propose", "TokensMinted", "--payload", '{"amount": 1, "task_id": "none"}'),
        ("governance", "propose", "RoleRevoked", "--payload", '{"subject": "0x' + "00" * 20 + '", "role": "admin"}'),
        ("governance", "approve", "9"),
        ("governance", "reject", "9"),
        ("governance", "execute", "9"),
        ("governance", "show", "9"),
        ("role", "grant", "trainer", "carol", "--propose", "--expires-in", "0"),
        ("token", "mint", "1", "--to", "carol", "--propose", "--expires-in", "5000"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(cli, governed: Path, args: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    before = snapshot(governed)
    result = cli(*args)
    assert result.code != 0 and one_error_line(result.err), result
    assert snapshot(governed) == before


def test_propose_by_payload_takes_identity_names(cli, governed: Path) -> None:  # type: ignore[no-untyped-def]
    proposed = cli(
        "governance", "propose", "RoleGranted", "--payload", '{"subject": "carol", "role": "trainer"}', "--json"
    )
    assert proposed.code == 0, proposed.err
    shown = cli("governance", "show", str(proposed.json()["proposal"])).json()
    assert shown["payload"]["subject"] == names_in_reverse(governed)["carol"] and shown["status"] == "open"


def names_in_reverse(home: Path) -> dict[str, str]:
    return {name: address for address, name in names_in(home).items()}


def test_no_policy_keeps_todays_behaviour(cli, home: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("governance", "policy", "show", "--json").json() == {"policy": None}
    assert cli("role", "grant", "trainer", "bob").code == 0
    proposed = cli("role", "grant", "auditor", "bob", "--propose")
    assert proposed.code == 19 and "no governance policy" in proposed.err
    assert cli("governance", "list", "--json").json() == {"policy": None, "proposals": []}
