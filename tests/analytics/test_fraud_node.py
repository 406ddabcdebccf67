"""End to end against a real local Ethereum node (anvil 1.7.1 from npm, started and stopped here): send a
generated transaction graph with planted laundering patterns, ingest it over JSON-RPC, detect the accounts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ledgerml.analytics import FraudDetector
from ledgerml.analytics.features import account_features
from ledgerml.analytics.rpc import JsonRpc, fetch_block_statistics, fetch_transactions
from ledgerml.analytics.synthetic import generate


def _send(url: str, world) -> None:  # type: ignore[no-untyped-def]
    rpc = JsonRpc(url)
    senders = sorted(set(world.transactions["from"]))
    for address in senders:
        rpc.call("anvil_impersonateAccount", [address])
        rpc.call("anvil_setBalance", [address, hex(10**24)])
    last = int(rpc.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    start = world.transactions["timestamp"].min()
    for row in world.transactions.itertuples(index=False):
        stamp = max(int(row.timestamp - start) + last + 1, last + 1)
        rpc.call("evm_setNextBlockTimestamp", [stamp])
        sent = rpc.call(
            "eth_sendTransaction",
            [{"from": row[0], "to": row[1], "value": hex(int(row.value * 1e18)), "gas": hex(21000)}],
        )
        deadline = time.monotonic() + 10
        while rpc.call("eth_getTransactionReceipt", [sent]) is None:  # anvil mines asynchronously
            assert time.monotonic() < deadline, f"transaction {sent} was not mined"
            time.sleep(0.002)
        last = stamp


@pytest.mark.slow
def test_detects_planted_fraud_on_a_real_node(node: str, tmp_path: Path) -> None:
    training = generate(ordinary_accounts=150, ordinary_transactions=1500, groups_per_pattern=3, seed=11)
    train = account_features(training.transactions)
    labels = train["Address"].map(lambda a: int(a in training.illicit)).to_numpy()
    detector = FraudDetector(n_estimators=200).fit(train.drop(columns=["Address"]), labels)

    world = generate(ordinary_accounts=60, ordinary_transactions=300, groups_per_pattern=2, seed=12)
    world.transactions = world.transactions[~world.transactions["contract_creation"]]
    _send(node, world)
    checkpoint = tmp_path / "tx.csv"
    fetched = fetch_transactions(node, 1, checkpoint=checkpoint)
    assert len(fetched) == len(world.transactions) and checkpoint.exists()
    again = fetch_transactions(node, 1, checkpoint=checkpoint)  # resumes: nothing left to fetch
    assert len(again) == len(fetched)
    stats = fetch_block_statistics(node, 1)  # the same blocks through the block-statistics extractor
    assert int(stats["tx_count"].sum()) == len(fetched) and (stats["gas_used"] >= 21000 * stats["tx_count"]).all()
    assert (stats["gas_used"] <= stats["gas_limit"]).all() and stats["base_fee_per_gas"].notna().all()
    accounts = account_features(fetched)
    truth = accounts["Address"].map(lambda a: int(a in world.illicit)).to_numpy()
    flagged = detector.predict(accounts.drop(columns=["Address"]))
    recall = float((flagged[truth == 1] == 1).mean())
    precision = float(truth[flagged == 1].mean()) if flagged.sum() else 0.0
    print(f"node end-to-end: {int(truth.sum())} planted accounts, recall {recall:.3f}, precision {precision:.3f}")
    assert recall >= 0.9 and precision >= 0.8
