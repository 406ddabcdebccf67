"""Fraud detection: account tables and their input errors, the detector, features from transactions, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ledgerml.analytics import FraudDetector, cross_validate, read_accounts
from ledgerml.analytics.features import account_features, pagerank
from ledgerml.analytics.synthetic import PATTERNS, generate
from ledgerml.errors import ConfigError, NotFound

from .._cli import error_lines


def labelled_accounts(seed: int = 3) -> pd.DataFrame:
    world = generate(ordinary_accounts=120, ordinary_transactions=1200, groups_per_pattern=3, seed=seed)
    frame = account_features(world.transactions)
    frame["FLAG"] = frame["Address"].map(lambda a: int(a in world.illicit))
    return frame


def test_generator_plants_every_pattern() -> None:
    world = generate(seed=5)
    assert set(world.illicit.values()) == set(PATTERNS)
    assert world.transactions["timestamp"].is_monotonic_increasing


def test_features_from_transactions_by_hand() -> None:
    tx = pd.DataFrame(
        {
            "from": ["A", "A", "B", "C"],
            "to": ["B", "C", "C", "A"],
            "value": [1.0, 3.0, 2.0, 0.5],
            "timestamp": [0, 600, 1200, 7200],
        }
    )
    f = account_features(tx).set_index("Address")
    assert f.loc["a", "Sent tnx"] == 2 and f.loc["c", "Received Tnx"] == 2
    assert f.loc["a", "avg val sent"] == 2.0 and f.loc["a", "Avg min between sent tnx"] == 10.0
    assert f.loc["c", "total ether balance"] == 4.5 and f.loc["a", "graph reciprocity"] == 1.0
    assert f.loc["b", "graph fan-in share"] == 0.5
    assert np.isclose(f["graph pagerank"].sum(), 3.0)


def test_pagerank_matches_a_known_graph() -> None:
    ranks = pagerank(np.array([0, 1, 2]), np.array([1, 2, 0]), 3)  # a cycle: uniform
    assert np.allclose(ranks, 1 / 3)
    star = pagerank(np.array([1, 2, 3]), np.array([0, 0, 0]), 4)
    assert star.argmax() == 0 and np.isclose(star.sum(), 1.0)


def test_detector_learns_patterns_and_roundtrips(tmp_path: Path) -> None:
    train, test = labelled_accounts(3), labelled_accounts(4)
    detector = FraudDetector(n_estimators=150).fit(train.drop(columns=["Address", "FLAG"]), train["FLAG"].to_numpy())
    x_test = test.drop(columns=["Address", "FLAG"])
    predicted = detector.predict(x_test)
    truth = test["FLAG"].to_numpy()
    assert (predicted[truth == 1] == 1).mean() > 0.9 and truth[predicted == 1].mean() > 0.9
    detector.save(tmp_path / "model")
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == ["detector.json", "model.txt"]  # no pickle
    loaded = FraudDetector.load(tmp_path / "model")
    assert np.array_equal(loaded.predict_proba(x_test), detector.predict_proba(x_test))
    contributions = detector.explain(x_test.iloc[:3])
    raw = detector.booster_.predict(x_test.iloc[:3], raw_score=True)
    assert np.allclose(contributions.sum(axis=1), raw)  # TreeSHAP is exact: contributions add up


@pytest.mark.parametrize("missing", ["native", "zero", "indicator"])
def test_missing_value_policies(missing: str) -> None:
    frame = labelled_accounts(6)
    features = frame.drop(columns=["Address", "FLAG"])
    features.iloc[::5, 3] = np.nan
    detector = FraudDetector(n_estimators=50, missing=missing).fit(features, frame["FLAG"].to_numpy())
    assert detector.predict_proba(features).shape == (len(features), 2)
    assert (len(detector.columns_) > len(features.columns)) == (missing == "indicator")


def test_grouped_folds_keep_duplicates_together(tmp_path: Path) -> None:
    frame = labelled_accounts(7)
    frame = pd.concat([frame, frame.iloc[:20]])  # duplicated addresses
    path = tmp_path / "dup.csv"
    frame.to_csv(path, index=False)
    table = read_accounts(path, require_label=True)
    result = cross_validate(table, lambda: FraudDetector(n_estimators=50), folds=3)
    assert len(result["folds"]) == 3 and result["mean_f1"] > 0.8


@pytest.mark.parametrize(
    ("content", "require_label", "message"),
    [
        ("", False, "empty"),
        ("Address,FLAG,x\n", True, "no rows"),
        ("address_,FLAG,x\n0x1,1,2\n", True, "no 'Address'"),
        ("addr,FLAG,x\n0x1,1,2\n", True, "rename it"),
        ("Address,x\n0x1,2\n0x2,3\n", True, "no 'FLAG'"),
        ("Address,FLAG,x\n0x1,yes,2\n0x2,0,3\n", True, "only 0 and 1"),
        ("Address,FLAG,x\n0x1,1,2\n0x2,1,3\n", True, "one class"),
        ("Address,FLAG,name\n0x1,1,a\n0x2,0,b\n", True, "no numeric"),
    ],
)
def test_bad_account_tables(tmp_path: Path, content: str, require_label: bool, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        read_accounts(path, require_label=require_label)


def test_bad_transactions_and_models(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="missing"):
        account_features(pd.DataFrame({"from": ["a"], "to": ["b"], "value": [1.0]}))
    with pytest.raises(ConfigError, match="numeric"):
        account_features(pd.DataFrame({"from": ["a"], "to": ["b"], "value": ["lots"], "timestamp": [1]}))
    with pytest.raises(NotFound):
        FraudDetector.load(tmp_path)
    with pytest.raises(NotFound):
        read_accounts(tmp_path / "none.csv", require_label=False)
    with pytest.raises(ConfigError, match="missing must be"):
        FraudDetector(missing="ignore").fit(pd.DataFrame({"x": [1.0, 2.0]}), np.array([0, 1]))


def test_fraud_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    from ledgerml.cli import main

    def run(*args: str) -> int:
        monkeypatch.setattr(sys, "argv", ["ledgerml", *args])
        try:
            main()
        except SystemExit as exc:
            return int(exc.code or 0)
        return 0

    monkeypatch.setenv("LEDGERML_HOME", str(tmp_path / "home"))
    assert run("init", "--unencrypted") == 0
    assert run("role", "grant", "data_owner", "admin") == 0 and run("role", "grant", "trainer", "admin") == 0
    train = tmp_path / "train.csv"
    labelled_accounts(8).to_csv(train, index=False)
    world = generate(ordinary_accounts=80, ordinary_transactions=600, groups_per_pattern=2, seed=9)
    transactions = tmp_path / "tx.csv"
    world.transactions.to_csv(transactions, index=False)
    accounts = tmp_path / "accounts.csv"
    capsys.readouterr()
    assert run("fraud", "features", "--transactions", str(transactions), "--out", str(accounts), "--json") == 0
    assert json.loads(capsys.readouterr().out)["accounts"] == len(pd.read_csv(accounts))
    assert run("fraud", "train", "--data", str(train), "--model-out", str(tmp_path / "m"), "--json") == 0
    trained = json.loads(capsys.readouterr().out)
    assert trained["model_id"].startswith("sha256:") and trained["mean_f1"] > 0.8
    assert run("verify", "model", str(tmp_path / "m")) == 0
    scores = tmp_path / "scores.csv"
    assert run("fraud", "score", "--model", str(tmp_path / "m"), "--data", str(accounts), "--out", str(scores)) == 0
    frame = pd.read_csv(scores)
    assert list(frame.columns) == ["Address", "score", "flagged"]
    flagged = set(frame.loc[frame["flagged"] == 1, "Address"])
    assert len(flagged & set(world.illicit)) >= 0.9 * len(world.illicit)
    some = frame["Address"].iloc[0]
    capsys.readouterr()
    assert (
        run("fraud", "explain", "--model", str(tmp_path / "m"), "--data", str(accounts), "--address", some, "--json")
        == 0
    )
    assert len(json.loads(capsys.readouterr().out)["contributions"]) == 10
    assert (
        run("fraud", "explain", "--model", str(tmp_path / "m"), "--data", str(accounts), "--address", "0x" + "0" * 40)
        == 3
    )
    assert run("fraud", "train", "--data", str(train), "--model-out", str(tmp_path / "m")) == 2  # not empty
    assert run("fraud", "features", "--out", str(accounts)) == 2
    assert run("fraud", "evaluate", "--data", str(accounts)) == 2  # no FLAG column


def test_unsupervised_scores_rank_planted_accounts_high() -> None:
    from sklearn.metrics import roc_auc_score

    from ledgerml.analytics.anomaly import anomaly_scores

    frame = labelled_accounts(10)
    scores, flagged = anomaly_scores(frame.drop(columns=["Address", "FLAG"]))
    assert scores.min() == 0.0 and scores.max() == 1.0 and set(np.unique(flagged)) <= {0, 1}
    auc = roc_auc_score(frame["FLAG"], scores)
    assert auc > 0.6, auc  # no labels used: better than chance on planted laundering


def test_features_from_the_projects_own_ledger(tmp_path: Path) -> None:
    from ledgerml.analytics.ledger_source import ledger_transactions
    from ledgerml.federated.apps import run_in_process
    from ledgerml.federated.runner import FederationConfig, setup_federation
    from ledgerml.home import Home

    home = Home(tmp_path / "home")
    home.init(unencrypted=True)
    setup_federation(
        home,
        FederationConfig(task_id="watched", participants=3, rounds=2, reward_pool=300, stake=10, initial_tokens=10),
        unencrypted=True,
    )
    run_in_process(home, "watched")
    ledger = home.open_ledger()
    tx = ledger_transactions(ledger)
    ledger.close()
    assert {"RoleGranted", "UpdateCommitted", "RewardPaid", "DatasetRegistered"} <= set(tx["kind"])
    accounts = account_features(tx).set_index("Address")
    aggregator = str(home.keys.info("aggregator").address).lower()
    assert accounts.loc[aggregator, "Received Tnx"] >= 6  # three joins and six commitments point at it
    assert accounts.loc[aggregator, "Sent tnx"] >= 3  # reward payments


def test_token_transfers_feed_the_erc20_statistics() -> None:
    tx = pd.DataFrame(
        {
            "from": ["A", "A", "B", "C"],
            "to": ["B", "C", "C", "A"],
            "value": [1.0, 3.0, 2.0, 0.5],
            "timestamp": [0, 600, 1200, 1800],
            "token": ["", "0xT1", "0xT1", "0xT2"],
        }
    )
    f = account_features(tx).set_index("Address")
    assert f.loc["a", "Sent tnx"] == 1  # only the ether transfer counts as an ether transaction
    assert f.loc["a", "Total ERC20 tnxs"] == 2 and f.loc["c", "ERC20 uniq rec contract addr"] == 1
    assert f.loc["a", "ERC20 total ether sent"] == 3.0 and f.loc["a", "ERC20 total Ether received"] == 0.5
    assert f.loc["b", "ERC20 avg val sent"] == 2.0
    assert np.isnan(tx.assign(token="").pipe(account_features).set_index("Address").loc["a", "Total ERC20 tnxs"])


def test_rpc_ingestion_decodes_erc20_logs(tmp_path: Path) -> None:
    import http.server
    import threading

    from ledgerml.analytics.rpc import TRANSFER_TOPIC, fetch_transactions

    sender, receiver, token = "0x" + "a" * 40, "0x" + "b" * 40, "0x" + "c" * 40
    blocks = {
        1: {
            "timestamp": hex(1000),
            "transactions": [
                {"hash": "0x01", "from": sender, "to": receiver, "value": hex(2 * 10**18), "gas": hex(21000)}
            ],
        },
        2: {
            "timestamp": hex(1060),
            "transactions": [{"hash": "0x02", "from": sender, "to": None, "value": "0x0", "gas": hex(900000)}],
        },
    }
    logs = {
        2: [
            {
                "address": token,
                "transactionHash": "0x02",
                "data": hex(5 * 10**17),
                "removed": False,
                "topics": [TRANSFER_TOPIC, "0x" + "0" * 24 + sender[2:], "0x" + "0" * 24 + receiver[2:]],
            },
            {
                "address": token,
                "transactionHash": "0x02",
                "data": "0x",
                "removed": False,  # an ERC-721 transfer
                "topics": [TRANSFER_TOPIC, "0x00", "0x01", "0x02"],
            },
        ]
    }

    class Node(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            method, params = request["method"], request["params"]
            if method == "eth_blockNumber":
                result: object = hex(2)
            elif method == "eth_getBlockByNumber":
                result = blocks.get(int(params[0], 16))
            else:
                result = logs.get(int(params[0]["fromBlock"], 16), [])
            body = json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": result}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Node)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        frame = fetch_transactions(f"http://127.0.0.1:{server.server_port}", 1, checkpoint=tmp_path / "c.csv")
        with pytest.raises(ConfigError, match=r"1\.\.9 ends past the chain's latest block \d"):
            fetch_transactions(f"http://127.0.0.1:{server.server_port}", 1, 9, checkpoint=tmp_path / "d.csv")
        assert not (tmp_path / "d.csv").exists()
    finally:
        server.shutdown()
        thread.join()
    assert len(frame) == 3  # two transactions and one ERC-20 transfer (the ERC-721 one is skipped)
    token_rows = frame[frame["token"].fillna("") != ""]
    assert list(token_rows["value"]) == [0.5] and token_rows.iloc[0]["from"] == sender
    assert bool(frame[frame["hash"] == "0x02"].iloc[0]["contract_creation"])
    features = account_features(frame).set_index("Address")
    assert features.loc[receiver, "ERC20 total Ether received"] == 0.5 and features.loc[sender, "Sent tnx"] == 1


from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

THRESHOLD_REASON = (
    "predict applies the threshold chosen on validation data, so it differs from argmax(predict_proba) by design"
)


@parametrize_with_checks(
    [FraudDetector(n_estimators=10)],
    expected_failed_checks=lambda estimator: {"check_classifiers_train": THRESHOLD_REASON},
)
def test_scikit_learn_compatibility(estimator, check) -> None:  # type: ignore[no-untyped-def]
    check(estimator)


def _cli_subprocess(home: Path, *args: str) -> tuple[int, str, str]:
    """Run the CLI in a child process (a native crash must not take the test run with it)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "LEDGERML_HOME": str(home), "COLUMNS": "400"}
    result = subprocess.run(
        [sys.executable, "-m", "ledgerml", *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    return result.returncode, result.stdout, result.stderr


def test_fraud_score_checks_the_model_folder_against_the_ledger_and_its_files(tmp_path: Path) -> None:
    """A changed threshold is refused (digest); a truncated model.txt or a bad tree is one line, never a crash."""
    import shutil

    home = tmp_path / "home"
    assert _cli_subprocess(home, "init", "--unencrypted")[0] == 0
    assert _cli_subprocess(home, "role", "grant", "data_owner", "admin")[0] == 0
    assert _cli_subprocess(home, "role", "grant", "trainer", "admin")[0] == 0
    frame = labelled_accounts(5)
    train = tmp_path / "train.csv"
    frame.to_csv(train, index=False)
    accounts = tmp_path / "accounts.csv"
    frame.drop(columns=["FLAG"]).to_csv(accounts, index=False)
    detector = FraudDetector(n_estimators=20).fit(frame.drop(columns=["Address", "FLAG"]), frame["FLAG"].to_numpy())
    good = tmp_path / "good"
    detector.save(good)
    code, out, err = _cli_subprocess(home, "data", "register", str(train), "--json")
    assert code == 0, err
    dataset_id = json.loads(out)["dataset_id"]
    code, _, err = _cli_subprocess(home, "model", "register", str(good), "--trained-on", dataset_id)
    assert code == 0, err
    scores = tmp_path / "scores.csv"
    base = ("fraud", "score", "--data", str(accounts), "--out", str(scores), "--model")
    code, _, err = _cli_subprocess(home, *base, str(good))
    assert code == 0 and scores.exists(), err

    def variant(name: str, change) -> Path:  # type: ignore[no-untyped-def]
        folder = tmp_path / name
        shutil.copytree(good, folder)
        change(folder)
        return folder

    def set_threshold(folder: Path) -> None:
        meta = json.loads((folder / "detector.json").read_text())
        meta["threshold"] = 0.0001
        (folder / "detector.json").write_text(json.dumps(meta))

    def truncate(folder: Path) -> None:
        text = (folder / "model.txt").read_bytes()
        (folder / "model.txt").write_bytes(text[: len(text) // 2])

    def bad_feature(folder: Path) -> None:
        text = (folder / "model.txt").read_text()
        (folder / "model.txt").write_text(text.replace("split_feature=", "split_feature=99999 ", 1))

    def bad_child(folder: Path) -> None:
        import re

        text = (folder / "model.txt").read_text()
        (folder / "model.txt").write_text(re.sub(r"left_child=-?\d+", "left_child=777", text, count=1))

    def deep_json(folder: Path) -> None:
        (folder / "detector.json").write_text("[" * 200_000 + "]" * 200_000)

    def extra_file(folder: Path) -> None:
        (folder / "model.pkl").write_bytes(b"\x80\x04.")

    def binary_model(folder: Path) -> None:
        (folder / "model.txt").write_bytes(b"\xff\xfe" * 1000)

    changed = variant("threshold", set_threshold)
    code, _, err = _cli_subprocess(home, *base, str(changed))
    assert code == 3 and "not a model registered" in err and len(error_lines(err)) == 1, err
    code, _, err = _cli_subprocess(home, *base, str(changed), "--unregistered")
    assert code == 0, err  # explicitly asked for: used, after its files were checked
    for name, change, message in [
        ("truncated", truncate, "end of trees"),
        ("feature", bad_feature, "model.txt is not a valid LightGBM model"),
        ("child", bad_child, "model.txt is not a valid LightGBM model"),
        ("deep", deep_json, "nested more than"),
        ("extra", extra_file, "does not have"),
        ("binary", binary_model, "not ASCII"),
    ]:
        folder = variant(name, change)
        before = scores.read_bytes()
        code, out, err = _cli_subprocess(home, *base, str(folder), "--unregistered")
        lines = error_lines(err)
        assert code == 2 and len(lines) == 1 and message in lines[0] and "Traceback" not in err, (name, code, err)
        assert scores.read_bytes() == before and out == ""  # nothing written
    code, _, err = _cli_subprocess(
        home, "fraud", "explain", "--model", str(changed), "--data", str(accounts), "--address", "0x1"
    )
    assert code == 3 and "not a model registered" in err


# --- JSON-RPC block iterator and row extractors (a fake node object; no network) ---


class FakeRpc:
    """Answers ``eth_getBlockByNumber`` and ``eth_getLogs`` from dictionaries; fails the first ``failures`` calls."""

    def __init__(self, blocks: dict[int, dict], logs: dict[int, list[dict]], failures: int = 0) -> None:
        self.blocks, self.logs, self.failures, self.calls = blocks, logs, failures, []

    def call(self, method: str, params: list | None = None) -> object:
        self.calls.append((method, params))
        if self.failures > 0:
            self.failures -= 1
            raise ConfigError("cannot reach the node at fake: refused")
        if method == "eth_blockNumber":
            return hex(max(self.blocks))
        if method == "eth_getBlockByNumber":
            return self.blocks.get(int(params[0], 16))  # type: ignore[index]
        first, last = int(params[0]["fromBlock"], 16), int(params[0]["toBlock"], 16)  # type: ignore[index]
        return [log for n in range(first, last + 1) for log in self.logs.get(n, [])]


def _chain(count: int) -> tuple[dict[int, dict], dict[int, list[dict]]]:
    from ledgerml.analytics.rpc import TRANSFER_TOPIC

    a, b, token = "0x" + "a" * 40, "0x" + "b" * 40, "0x" + "c" * 40
    blocks, logs = {}, {}
    for n in range(1, count + 1):
        blocks[n] = {
            "timestamp": hex(1000 + 12 * n),
            "gasUsed": hex(21000 * n),
            "gasLimit": hex(30_000_000),
            "transactions": [
                {"hash": f"0x{n:02x}{i}", "from": a.upper(), "to": b, "value": hex(10**18), "gas": hex(21000)}
                for i in range(n)
            ],
        }
        if n >= 3:
            blocks[n]["baseFeePerGas"] = hex(7 * n)
        logs[n] = [
            {
                "address": token.upper(),
                "blockNumber": hex(n),
                "transactionHash": f"0x{n:02x}0",
                "data": hex(n * 10**18),
                "removed": n == 4,
                "topics": [TRANSFER_TOPIC, "0x" + "0" * 24 + a[2:], "0x" + "0" * 24 + b[2:]],
            }
        ]
    return blocks, logs


def test_block_iterator_resumes_batches_logs_and_extracts_rows() -> None:
    from ledgerml.analytics.rpc import (
        BLOCK_COLUMNS,
        block_statistics_row,
        iter_blocks,
        token_transfer_rows,
        transaction_rows,
    )

    blocks, logs = _chain(5)
    rpc = FakeRpc(blocks, logs)
    seen = [raw.number for raw in iter_blocks(rpc, 1, 2)]  # type: ignore[arg-type]
    seen += [raw.number for raw in iter_blocks(rpc, seen[-1] + 1, 5, batch=2)]  # type: ignore[arg-type]
    assert seen == [1, 2, 3, 4, 5]
    assert sum(m == "eth_getLogs" for m, _ in rpc.calls) == 2 + 2  # blocks 3..4 and 5 in two log calls
    raws = list(iter_blocks(FakeRpc(blocks, logs), 1, 5, batch=3))  # type: ignore[arg-type]
    assert [len(transaction_rows(r)) for r in raws] == [1, 2, 3, 4, 5]
    assert transaction_rows(raws[0])[0]["from"] == "0x" + "a" * 40 and transaction_rows(raws[0])[0]["value"] == 1.0
    transfers = [row for r in raws for row in token_transfer_rows(r)]
    assert [t["block"] for t in transfers] == [1, 2, 3, 5]  # the removed (reorganised) log of block 4 is skipped
    assert transfers[-1]["value"] == 5.0 and transfers[-1]["token"] == "0x" + "c" * 40
    stats = [block_statistics_row(r) for r in raws]
    assert list(stats[0]) == BLOCK_COLUMNS
    assert stats[1] == {
        "number": 2,
        "timestamp": 1024,
        "gas_used": 42000,
        "gas_limit": 30_000_000,
        "base_fee_per_gas": None,  # before London
        "tx_count": 2,
    }
    assert stats[4]["base_fee_per_gas"] == 35
    without = list(iter_blocks(FakeRpc(blocks, logs), 1, 2, logs=False))  # type: ignore[arg-type]
    assert all(r.logs == [] for r in without)


def test_block_iterator_retries_a_bounded_number_of_times(monkeypatch: pytest.MonkeyPatch) -> None:
    from ledgerml.analytics import rpc as rpc_module

    monkeypatch.setattr(rpc_module.time, "sleep", lambda seconds: None)
    blocks, logs = _chain(2)
    flaky = FakeRpc(blocks, logs, failures=2)
    assert [r.number for r in rpc_module.iter_blocks(flaky, 1, 2, retries=2)] == [1, 2]  # type: ignore[arg-type]
    down = FakeRpc(blocks, logs, failures=10)
    with pytest.raises(ConfigError, match="cannot reach"):
        list(rpc_module.iter_blocks(down, 1, 2, retries=2))  # type: ignore[arg-type]
    assert len(down.calls) == 3  # one try and two retries
    with pytest.raises(ConfigError, match="no block 3"):
        list(rpc_module.iter_blocks(FakeRpc(blocks, logs), 1, 3, logs=False))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="batch"):
        list(rpc_module.iter_blocks(FakeRpc(blocks, logs), 1, 3, batch=0))  # type: ignore[arg-type]


# --- time-series split ---

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(
    times=st.lists(st.integers(0, 50), min_size=12, max_size=200),
    folds=st.integers(1, 5),
    gap=st.integers(0, 3),
)
def test_time_series_folds_never_look_ahead(times: list[int], folds: int, gap: int) -> None:
    from ledgerml.analytics.splits import time_series_folds

    stamps = np.asarray(times)
    try:
        splits = list(time_series_folds(stamps, folds=folds, gap=gap))
    except ConfigError:
        return  # too few rows (or distinct times) for these folds: refused, not split
    assert len(splits) == folds
    tested: list[int] = []
    for train, test in splits:
        assert len(train) and len(test) and not set(train) & set(test)
        assert stamps[train].max() < stamps[test].min()  # every test row is later than every train row
        tested += list(test)
    assert len(tested) == len(set(tested))  # test windows do not overlap
    sizes = [len(train) for train, _ in splits]
    assert sizes == sorted(sizes)  # expanding window


def test_time_series_folds_gap_and_splitter() -> None:
    from ledgerml.analytics.splits import TimeSeriesFolds, time_series_folds

    times = np.arange(100)[::-1]  # given in reverse order: folds follow time, not position
    (train, test), *_ = time_series_folds(times, folds=4, gap=5)
    assert sorted(times[test]) == list(range(20, 40)) and sorted(times[train]) == list(range(15))
    frame = pd.DataFrame({"t": times, "x": np.arange(100.0)})
    splitter = TimeSeriesFolds("t", n_splits=4, gap=5)
    assert splitter.get_n_splits() == 4 and len(list(splitter.split(frame))) == 4
    with pytest.raises(ConfigError, match="too few"):
        list(time_series_folds(np.arange(4), folds=5))
    with pytest.raises(ConfigError, match="no time column"):
        list(TimeSeriesFolds("when").split(frame))
    with pytest.raises(ConfigError, match="missing"):
        list(time_series_folds(np.array([1.0, np.nan] * 10), folds=2))


def test_evaluate_folds_over_a_time_series_split() -> None:
    from ledgerml.analytics.evaluation import evaluate_folds
    from ledgerml.analytics.splits import time_series_folds

    frame = labelled_accounts(12).sample(frac=1.0, random_state=0).reset_index(drop=True)
    X, y = frame.drop(columns=["Address", "FLAG"]), frame["FLAG"].to_numpy()
    times = np.arange(len(frame))
    result = evaluate_folds(X, y, lambda: FraudDetector(n_estimators=30), time_series_folds(times, folds=2, gap=3))
    assert len(result["folds"]) == 2 and 0.0 <= result["mean_pr_auc"] <= 1.0


# --- the estimator template: artifacts, registration, workflows ---


def _trainer_home(path: Path):  # type: ignore[no-untyped-def]
    """A fresh home whose default identity may register data and models."""
    from ledgerml.home import Home
    from ledgerml.vocab.core import RoleGranted

    home = Home(path)
    home.init(unencrypted=True)
    admin, ledger = home.identity(), home.open_ledger()
    try:
        for role in ("data_owner", "trainer"):
            ledger.submit(admin, RoleGranted(subject=admin.address, role=role))
    finally:
        ledger.close()
    return home


def test_train_workflow_registers_model_data_and_metrics(tmp_path: Path) -> None:
    from ledgerml.analytics.artifacts import folder_digest, read_folder
    from ledgerml.analytics.detector import DETECTOR_FOLDER
    from ledgerml.analytics.workflows import load_fraud_detector, score_accounts, train_fraud_detector
    from ledgerml.provenance import build_manifest
    from ledgerml.types import Digest
    from ledgerml.vocab.core import dataset, model

    home = _trainer_home(tmp_path / "home")
    train = tmp_path / "train.csv"
    labelled_accounts(13).to_csv(train, index=False)
    result = train_fraud_detector(train, tmp_path / "m", folds=2, home=home)
    assert result.model_id == folder_digest(read_folder(tmp_path / "m", DETECTOR_FOLDER))
    assert set(result.summary) == {k for k in result.cross_validation if k.startswith("mean_")}
    ledger = home.open_ledger()
    try:
        record = model(ledger.state(), result.model_id)
        data_id = str(build_manifest(train).digest)
        assert (
            record is not None and list(record.datasets) == [data_id] and dataset(ledger.state(), data_id) is not None
        )
        assert record.metrics_digest == str(Digest.sha256(json.dumps(result.cross_validation).encode()))
    finally:
        ledger.close()
    meta = json.loads((tmp_path / "m" / "detector.json").read_text())
    assert meta["training_data"] == data_id and meta["cross_validation"] == result.summary
    loaded = load_fraud_detector(tmp_path / "m", home)
    assert loaded.threshold_ == result.threshold
    scores = score_accounts(train, tmp_path / "m", home)
    assert list(scores.columns) == ["Address", "score", "flagged"]
    unsaved = train_fraud_detector(train, tmp_path / "u", folds=2)  # no home: saved, not registered
    assert unsaved.model_id is None and "training_data" not in json.loads(
        (tmp_path / "u" / "detector.json").read_text()
    )
    with pytest.raises(NotFound, match="not a model registered"):
        load_fraud_detector(tmp_path / "u", home)
    assert load_fraud_detector(tmp_path / "u", home, unregistered=True).threshold_ == unsaved.threshold


def test_save_and_register_leaves_nothing_behind_on_failure(tmp_path: Path) -> None:
    from ledgerml.analytics.artifacts import save_and_register

    home = _trainer_home(tmp_path / "home")
    data = tmp_path / "d.csv"
    data.write_text("Address,x\n0x1,1\n")
    folder = tmp_path / "out"

    def save(data_id: str | None) -> None:
        folder.mkdir()
        (folder / "weights.bin").write_bytes(b"\x80\x04.")  # a pickle: registration refuses it

    with pytest.raises(ConfigError, match="pickle"):
        save_and_register(save, folder, data=data, metrics={"f1": 1.0}, name="x", home=home)
    assert not folder.exists()


def test_model_text_check_accepts_infinite_split_thresholds(tmp_path: Path) -> None:
    """LightGBM itself writes ``inf`` thresholds (seen in trained models); the structure check lets them through
    (the child-process probe still loads the file before use) and refuses NaN."""
    import re

    from ledgerml.analytics.detector import _check_model_text

    frame = labelled_accounts(5)
    detector = FraudDetector(n_estimators=5).fit(frame.drop(columns=["Address", "FLAG"]), frame["FLAG"].to_numpy())
    text = detector.booster_.model_to_string()
    n = len(detector.columns_)

    def first_threshold(value: str) -> bytes:
        return re.sub(r"(?m)^(threshold=)(\S+)", lambda m: m.group(1) + value, text, count=1).encode()

    assert _check_model_text(first_threshold("inf"), n, "m")
    with pytest.raises(ConfigError, match="malformed or inconsistent arrays"):
        _check_model_text(first_threshold("nan"), n, "m")


def test_a_mint_executed_by_proposal_is_the_proposers_edge(tmp_path: Path) -> None:
    from ledgerml import Ledger, sqlite_url
    from ledgerml.analytics.ledger_source import ledger_transactions
    from ledgerml.governance.api import approve, policy_payload, propose
    from ledgerml.vocab.tokens import TokensMinted

    from ..conftest import make_identity

    admin, alice, bob = (make_identity(name, 900 + i) for i, name in enumerate(("admin", "alice", "bob")))
    ledger = Ledger.create(sqlite_url(tmp_path / "g.db"), admin=admin, name="gov")
    ledger.submit(admin, policy_payload(2, [admin.address, alice.address, bob.address]))
    number = propose(ledger, admin, TokensMinted(to=bob.address, amount=70)).proposal
    approve(ledger, alice, number)
    tx = ledger_transactions(ledger)
    ledger.close()
    minted = tx[tx["kind"] == "TokensMinted"]
    assert list(zip(minted["from"], minted["to"], minted["value"], strict=True)) == [
        (admin.address.lower(), bob.address.lower(), 70.0)
    ]
