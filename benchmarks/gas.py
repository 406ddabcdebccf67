"""Gas per ledger operation on the Vyper contracts, gas per federated round, and transactions per second.

Usage: python benchmarks/gas.py [--participants 5,10,50] [--tx 200] [--out benchmarks/results/gas.json]

Gas is measured on a real anvil 1.7.1 node (Prague rules, the default EVM version), which this script starts on
a free loopback port and stops by PID. Transactions/s are sequential sends with receipts, each event signed by
its actor and sent raw, against anvil and against py-evm in process. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ledgerml import DatasetRegistered, Identity, ModelRegistered, RoleGranted
from ledgerml.anchor import anchor_head
from ledgerml.ledger.evm.backend import EvmLedger, connect, deploy, fund
from ledgerml.localnode import running_anvil
from ledgerml.types import Role
from ledgerml.vocab.rewards import RewardPaid, StakeSlashed, TaskSettled
from ledgerml.vocab.tasks import ParticipantJoined, Rejection, RoundFinalized, TaskCreated, UpdateCommitted
from ledgerml.vocab.tokens import TokensMinted, TokensTransferred


def digest(tag: str) -> str:
    return "sha256:" + tag.encode().hex().ljust(64, "0")[:64]


@contextmanager
def anvil() -> Iterator[str]:
    """A throwaway anvil with one well-funded account (the shared launcher in ledgerml.localnode)."""
    with running_anvil("--silent", "--accounts", "1", "--balance", "1000000") as node:
        yield node.url


def new_ledger(w3: Any, admin: Identity, people: list[Identity], gas_limit: int | None) -> EvmLedger:
    fund(w3, [p.address for p in [admin, *people]], wei=10**20)
    deployment = deploy(w3, admin, gas_limit=gas_limit)
    return EvmLedger(w3, deployment, validator=admin, signers=people, block_size=10**9, gas_limit=gas_limit)


def measure_round(w3: Any, n: int, gas_limit: int | None) -> dict[str, Any]:
    """One task with ``n`` participants: the gas of every operation of its first round (and a second round)."""
    admin = Identity.generate("admin")
    people = [Identity.generate(f"p{i}") for i in range(n)]
    ledger = new_ledger(w3, admin, people, gas_limit)
    gas: dict[str, Any] = {}

    def record(name: str, action: Callable[[], Any]) -> None:
        action()
        gas.setdefault(name, []).extend(ledger.last_gas)

    ledger.submit_batch(admin, [RoleGranted(subject=admin.address, role=Role.AGGREGATOR)])
    for person in people:
        record(
            "grant role", lambda p=person: ledger.submit(admin, RoleGranted(subject=p.address, role=Role.DATA_OWNER))
        )
    for i, person in enumerate(people):
        record(
            "register dataset",
            lambda p=person, i=i: ledger.submit(
                p, DatasetRegistered(dataset_id=digest(f"d{i}"), name=f"d{i}", metadata={"records": 1000})
            ),
        )
    record(
        "register model",
        lambda: ledger.submit(admin, ModelRegistered(model_id=digest("m0"), name="m0", datasets=[digest("d0")])),
    )
    record(
        "create task",
        lambda: ledger.submit(
            admin,
            TaskCreated(
                task_id="t",
                name="t",
                model_spec=digest("spec"),
                initial_model=digest("m0"),
                rounds=2,
                rule="fedavg",
                reward_pool=10**6,
                min_stake=10,
                slash_on=["norm bound"],
                slash_amount=5,
            ),
        ),
    )
    record("mint into pool", lambda: ledger.submit(admin, TokensMinted(amount=10**6, task_id="t")))
    for person in people:
        record("mint to account", lambda p=person: ledger.submit(admin, TokensMinted(amount=100, to=p.address)))
    for i, person in enumerate(people):
        datasets = [digest(f"d{i}")]  # the records of the joined datasets bound each update's num_examples
        record(
            "join with stake",
            lambda p=person, d=datasets: ledger.submit(p, ParticipantJoined(task_id="t", datasets=d, stake=10)),
        )
    base = digest("m0")
    for rnd in (1, 2):
        for i, person in enumerate(people):
            record(
                f"commit update (round {rnd})",
                lambda p=person, i=i, rnd=rnd, base=base: ledger.submit(
                    p,
                    UpdateCommitted(
                        task_id="t", round=rnd, update_digest=digest(f"u{rnd}-{i}"), base_digest=base, num_examples=100
                    ),
                ),
            )
        rejected = [people[-1]] if rnd == 1 else []
        accepted = [p for p in people if p not in rejected]
        record(
            f"finalize round {rnd}",
            lambda a=accepted, r=rejected, rnd=rnd: ledger.submit(
                admin,
                RoundFinalized(
                    task_id="t",
                    round=rnd,
                    status="ok",
                    aggregate_digest=digest(f"agg{rnd}"),
                    accepted=[p.address for p in a],
                    rejected=[Rejection(participant=p.address, reason="norm bound exceeded") for p in r],
                ),
            ),
        )
        contributions = {p.address: 1000 + i for i, p in enumerate(accepted)}
        budget = 10**6 // 2
        total = sum(contributions.values())
        payments = {a: budget * c // total for a, c in contributions.items()}
        record(
            f"pay rewards round {rnd}",
            lambda c=contributions, pay=payments, rnd=rnd: ledger.submit(
                admin, RewardPaid(task_id="t", round=rnd, contributions=c, payments=pay)
            ),
        )
        if rnd == 1:
            record(
                "slash",
                lambda: ledger.submit(
                    admin,
                    StakeSlashed(
                        task_id="t",
                        round=1,
                        participant=people[-1].address,
                        amount=5,
                        reason="norm bound exceeded",
                        update_digest=digest(f"u1-{n - 1}"),
                    ),
                ),
            )
        base = digest(f"agg{rnd}")
    record("settle task", lambda: ledger.submit(admin, TaskSettled(task_id="t")))
    record("transfer tokens", lambda: ledger.submit(people[0], TokensTransferred(to=people[1].address, amount=1)))
    record("seal block", ledger.seal)
    assert ledger.verify().ok
    return gas


def tx_rate(w3: Any, count: int, gas_limit: int | None) -> float:
    admin = Identity.generate("admin")
    people = [Identity.generate(f"p{i}") for i in range(4)]
    ledger = new_ledger(w3, admin, people, gas_limit)
    start = time.perf_counter()
    for i in range(count):
        who = people[i % len(people)]
        ledger.submit(admin, TokensMinted(amount=1, to=who.address))
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--participants", default="5,10,50")
    parser.add_argument("--tx", type=int, default=200)
    parser.add_argument("--out", default="benchmarks/results/gas.json")
    args = parser.parse_args()
    sizes = [int(v) for v in args.participants.split(",")]
    results: dict[str, Any] = {"machine": platform.platform(), "cpus": os.cpu_count(), "rounds": {}}
    with anvil() as url:
        w3 = connect(url)
        for n in sizes:
            results["rounds"][n] = measure_round(w3, n, None)
        # anchoring an embedded ledger's head: a self-transaction carrying the signed head
        import tempfile

        from ledgerml import Ledger, sqlite_url

        key = Identity.generate("anchorer")
        fund(w3, [key.address], wei=10**20)
        with tempfile.TemporaryDirectory() as folder:
            local = Ledger.create(sqlite_url(Path(folder) / "l.db"), admin=key)
            anchored = anchor_head(local, key, "evm+" + url)
            results["anchor"] = int(w3.eth.get_transaction_receipt(anchored.transaction)["gasUsed"])
            local.close()
        results["tx_per_s_anvil"] = tx_rate(w3, args.tx, None)
    from web3 import EthereumTesterProvider, Web3

    results["tx_per_s_pyevm"] = tx_rate(Web3(EthereumTesterProvider()), args.tx, 8_000_000)
    report(results, sizes)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1, default=str) + "\n")


def report(results: dict[str, Any], sizes: list[int]) -> None:
    first = results["rounds"][sizes[0]]
    print("\n| operation | gas (mean) |\n|---|---:|")
    singles = [
        "register dataset",
        "register model",
        "create task",
        "join with stake",
        "commit update (round 1)",
        "commit update (round 2)",
        "mint to account",
        "mint into pool",
        "slash",
        "transfer tokens",
        "settle task",
        "seal block",
        "grant role",
    ]
    for name in singles:
        values = first[name]
        print(f"| {name} | {sum(values) / len(values):,.0f} |")
    print(f"| anchor (embedded ledger head) | {results['anchor']:,} |")
    print(
        "\n| participants | commit (mean) | finalize round | finalize / participant | pay rewards | "
        "round total (commits + finalize + rewards) | per participant |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n in sizes:
        r = results["rounds"][n]
        commits = r["commit update (round 2)"]
        finalize, rewards = r["finalize round 2"][0], r["pay rewards round 2"][0]
        total = sum(commits) + finalize + rewards
        print(
            f"| {n} | {sum(commits) / len(commits):,.0f} | {finalize:,} | {finalize / n:,.0f} | {rewards:,} | "
            f"{total:,} | {total / n:,.0f} |"
        )
    print(
        f"\ntransactions/s (sequential, receipt awaited): anvil {results['tx_per_s_anvil']:.0f}, "
        f"py-evm {results['tx_per_s_pyevm']:.0f}"
    )


if __name__ == "__main__":
    main()
