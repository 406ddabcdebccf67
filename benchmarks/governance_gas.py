"""Gas per governance call on the EVM backend (Governance.vy + Ledger.vy), beside the same actions taken directly.

Usage: python benchmarks/governance_gas.py [--out benchmarks/results/governance_gas.json]

Runs on a real anvil 1.7.1 node (Prague rules), started on a free loopback port and stopped by PID. One ledger:
the baseline rows are the direct, ungoverned calls (no policy yet); then a 2-of-3 policy is set and the same
actions go through propose / approve / execute. Prints a Markdown table (gas used per transaction, from receipts).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ledgerml import Identity
from ledgerml.governance.api import approve, execute, policy_payload, propose, reject
from ledgerml.ledger.evm.backend import EvmLedger, connect, deploy, fund
from ledgerml.localnode import running_anvil
from ledgerml.types import Role
from ledgerml.vocab.core import RoleGranted
from ledgerml.vocab.tokens import TokensMinted


def measure(ledger: EvmLedger, people: dict[str, Identity]) -> dict[str, int]:
    """Gas of each call, by row name."""
    gas: dict[str, int] = {}
    admin, alice, bob = people["admin"], people["alice"], people["bob"]

    def record(name: str, action: Any) -> None:
        action()
        gas[name] = sum(ledger.last_gas)

    record(
        "grant_role, direct (baseline)",
        lambda: ledger.submit(admin, RoleGranted(subject=alice.address, role=Role.AUDITOR)),
    )
    record("mint, direct (baseline)", lambda: ledger.submit(admin, TokensMinted(amount=5, to=alice.address)))
    members = [p.address for p in (admin, alice, bob)]
    record("set_policy (first policy, 3 members)", lambda: ledger.submit(admin, policy_payload(2, members)))
    made: dict[str, int] = {}
    for label, payload in (
        ("RoleGranted", RoleGranted(subject=bob.address, role=Role.AUDITOR)),
        ("TokensMinted", TokensMinted(amount=5, to=bob.address)),
    ):
        record(
            f"propose {label} (dry-runs the call)",
            lambda p=payload, k=label: made.update({k: propose(ledger, admin, p).proposal}),
        )
        record(f"approve {label} (2nd of 2)", lambda k=label: approve(ledger, alice, made[k], execute=False))
        record(f"execute {label}", lambda k=label: execute(ledger, bob, made[k]))
    sunk = propose(ledger, admin, RoleGranted(subject=bob.address, role=Role.TRAINER)).proposal
    record("reject (1st)", lambda: reject(ledger, alice, sunk))
    record("reject (2nd: the proposal fails)", lambda: reject(ledger, bob, sunk))
    return gas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    people = {name: Identity.generate(name) for name in ("admin", "alice", "bob")}
    with running_anvil("--silent", "--accounts", "1", "--balance", "1000000") as node:
        w3 = connect(node.url)
        fund(w3, [p.address for p in people.values()], wei=10**20)
        deployment = deploy(w3, people["admin"])
        ledger = EvmLedger(w3, deployment, validator=people["admin"], signers=list(people.values()), block_size=10**9)
        gas = measure(ledger, people)
    print("| call | gas |\n|---|---:|")
    for name, used in gas.items():
        print(f"| {name} | {used:,} |")
    governed = {
        k: sum(v for n, v in gas.items() if k in n and n.split()[0] in ("propose", "approve", "execute"))
        for k in ("RoleGranted", "TokensMinted")
    }
    for kind, total in governed.items():
        print(f"| {kind} through governance (propose + approve + execute) | {total:,} |")
    if args.out:
        args.out.write_text(json.dumps({"gas": gas, "governed_totals": governed}, indent=1) + "\n")


if __name__ == "__main__":
    main()
