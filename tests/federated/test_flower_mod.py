"""Bring your own Flower app: a quickstart-numpy-style ClientApp plus ``ledger_mod`` joins a ledgerml
federation in process; any replayable ``flwr.serverapp.strategy`` strategy is wrapped unchanged and its
aggregate is the one recorded; the round audit (``ledgerml audit task``) passes."""

from __future__ import annotations

import csv
import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp.strategy import FedAdam, FedAvg, FedMedian, FedProx, Krum

from ledgerml.errors import ConfigError
from ledgerml.federated import create_flower_task, ledger_mod, serve_flower_task
from ledgerml.federated.flower import LocalGrid, local_contexts
from ledgerml.home import Home
from ledgerml.ml.serialization import from_bytes
from ledgerml.vocab.tasks import commits, participants, round_record, task

from .._cli import one_error_line, run_cli, snapshot
from .quickstart import EXAMPLE  # noqa: F401  (puts examples/flower-quickstart on the path)

# isort: split
from quickstart_ledger.client_app import app, train  # the example app itself
from quickstart_ledger.server_app import evaluate
from quickstart_ledger.task import get_model, load_data

plain_app = ClientApp()
"""The same app without the mod: Flower's quickstart before it joins a ledgerml federation."""
plain_app.train()(train)

TASK = "qs"


def _register(home: Home, name: str, partition: int, folder: Path) -> None:
    """What an organisation does with the CLI beforehand: its identity, its role (from the admin), its data."""
    X, y = load_data(partition)
    path = folder / f"{name}.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["x0", "x1", "x2", "y"])
        writer.writerows([[*map(repr, map(float, row)), repr(float(t))] for row, t in zip(X, y[:, 0], strict=True)])
    for args in (
        ("identity", "create", name, "--unencrypted"),
        ("role", "grant", "data_owner", name),
        (
            "data",
            "register",
            str(path),
            "--as",
            name,
            "--name",
            name,
            "--license",
            "CC0-1.0",
            "--consent-note",
            "synthetic",
        ),
    ):
        result = run_cli(*args, "--home", str(home.path))
        assert result.code == 0, result.err


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with an aggregator and two organisations (org0, org1) that registered their data, made once."""
    folder = tmp_path_factory.mktemp("prepared")
    home = Home(folder / "home")
    home.init(unencrypted=True)
    assert run_cli("identity", "create", "agg", "--unencrypted", "--home", str(home.path)).code == 0
    assert run_cli("role", "grant", "aggregator", "agg", "--home", str(home.path)).code == 0
    for partition in (0, 1):
        _register(home, f"org{partition}", partition, folder)
    return home.path


@pytest.fixture
def federation(prepared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Home]:
    """A fresh copy of the prepared home; Flower's task identity restored afterwards."""
    from flwr.supercore.task_identity import TaskIdentity

    shutil.copytree(prepared, tmp_path / "home")
    home = Home(tmp_path / "home")
    monkeypatch.setenv("QUICKSTART_KEYS", str(home.keys.folder))
    monkeypatch.setenv("QUICKSTART_RECEIPTS", str(tmp_path / "receipts"))
    saved = (TaskIdentity._run_id, TaskIdentity._node_id, TaskIdentity._task_id)
    yield home
    TaskIdentity._run_id, TaskIdentity._node_id, TaskIdentity._task_id = saved


def _strategy(cls: type[Any] = FedAvg, **settings: Any) -> Any:
    return cls(fraction_evaluate=0.0, min_available_nodes=2, min_train_nodes=2, **settings)


def _run(home: Home, client: ClientApp, strategy: Any, nodes: int = 2) -> Any:
    with LocalGrid(client, local_contexts(nodes)) as grid:
        return serve_flower_task(grid, home, TASK, strategy, evaluate=evaluate)


def _stored_updates(home: Home, round_: int) -> list[tuple[dict[str, np.ndarray], int]]:
    with home.open_ledger(as_validator=False) as ledger:
        found = commits(ledger.state(), TASK, round_)
    return [(from_bytes(home.store().get(c.update_digest)), c.num_examples) for _, c in sorted(found.items())]


def _independent_aggregate(cls: type[Any], settings: dict[str, Any], updates: list[tuple[Any, int]]) -> dict[str, Any]:
    """What a fresh instance of Flower's strategy makes of the stored updates (test-side, not ledgerml's code)."""
    from flwr.supercore.task_identity import TaskIdentity

    saved = (TaskIdentity._run_id, TaskIdentity._node_id, TaskIdentity._task_id)
    TaskIdentity.run_id, TaskIdentity.node_id, TaskIdentity.task_id = 1, 1, 1
    try:
        replies = [
            Message(
                RecordDict(
                    {
                        "arrays": ArrayRecord({k: Array(v) for k, v in sorted(weights.items())}),
                        "metrics": MetricRecord({"num-examples": n}),
                    }
                ),
                dst_node_id=i + 1,
                message_type="train",
            )
            for i, (weights, n) in enumerate(updates)
        ]
        arrays, _ = _strategy(cls, **settings).aggregate_train(1, replies)
    finally:
        TaskIdentity._run_id, TaskIdentity._node_id, TaskIdentity._task_id = saved
    return {k: a.numpy() for k, a in arrays.items()}


def test_quickstart_app_with_the_mod_joins_and_the_audit_passes(federation: Home, tmp_path: Path) -> None:
    # Prepare: the task records the app's own arrays ("0", "1": float32), its rule is Flower's FedAvg
    record = create_flower_task(
        federation, TASK, initial=ArrayRecord(get_model()), strategy=_strategy(), rounds=2, aggregator="agg"
    )
    spec = json.loads(federation.store().get(record.model_spec))
    assert spec == {
        "type": "arrays",
        "arrays": {"0": {"shape": [3, 1], "dtype": "float32"}, "1": {"shape": [1], "dtype": "float32"}},
    }
    assert record.rule == "flwr:FedAvg"
    # Execute
    served = _run(federation, app, _strategy())
    # Assert: the mod joined both organisations with their registered datasets; every round used both updates
    assert served.join_problems == []
    with federation.open_ledger(as_validator=False) as ledger:
        state = ledger.state()
        orgs = {federation.keys.info(f"org{i}").address for i in (0, 1)}
        assert set(participants(state, TASK)) == orgs
        rounds = [round_record(state, TASK, r) for r in (1, 2)]
    assert [(r.status, sorted(r.accepted), r.invalid) for r in rounds if r] == [("ok", sorted(orgs), ())] * 2
    assert json.loads(rounds[1].metrics)["val_mse"] < json.loads(rounds[0].metrics)["val_mse"]  # type: ignore[union-attr]
    # The recorded aggregate is Flower's FedAvg of the stored updates, arrays under their own names
    expected = _independent_aggregate(FedAvg, {}, _stored_updates(federation, 2))
    final = from_bytes(federation.store().get(rounds[1].aggregate_digest))  # type: ignore[union-attr, arg-type]
    assert sorted(final) == ["0", "1"] and final["0"].dtype == np.float32
    assert all(np.array_equal(final[k], expected[k].astype(np.float32)) for k in final)
    # Receipts went to each organisation's folder, and the auditor's replay agrees (CLI, exit 0)
    assert sum(len(log.read_bytes().splitlines()) for log in (tmp_path / "receipts").rglob("receipts.jsonl")) == 4
    audit = run_cli("audit", "task", TASK, "--home", str(federation.path), "--json")
    assert audit.code == 0, audit.out + audit.err
    assert json.loads(audit.out)["ok"] is True
    receipts = run_cli("audit", "task", TASK, "--receipts", str(tmp_path / "receipts"), "--home", str(federation.path))
    assert receipts.code == 0, receipts.out + receipts.err


@pytest.mark.parametrize(("cls", "settings"), [(FedProx, {"proximal_mu": 0.1}), (Krum, {}), (FedMedian, {})])
def test_flower_strategies_are_wrapped_unchanged_and_their_aggregate_recorded(
    federation: Home, cls: type[Any], settings: dict[str, Any]
) -> None:
    create_flower_task(
        federation,
        TASK,
        initial=ArrayRecord(get_model()),
        strategy=_strategy(cls, **settings),
        rounds=1,
        aggregator="agg",
    )
    _run(federation, app, _strategy(cls, **settings))
    with federation.open_ledger(as_validator=False) as ledger:
        recorded = round_record(ledger.state(), TASK, 1)
        record = task(ledger.state(), TASK)
    assert recorded is not None and record is not None and recorded.status == "ok"
    assert record.rule == f"flwr:{cls.__name__}" and record.params().get("proximal_mu") == settings.get("proximal_mu")
    expected = _independent_aggregate(cls, settings, _stored_updates(federation, 1))
    final = from_bytes(federation.store().get(recorded.aggregate_digest))  # type: ignore[arg-type]
    assert all(np.array_equal(final[k], expected[k].astype(final[k].dtype)) for k in final)
    assert run_cli("audit", "task", TASK, "--home", str(federation.path)).code == 0


def test_a_stateful_or_mismatched_strategy_is_refused_and_writes_nothing(federation: Home) -> None:
    before = snapshot(federation.path)
    with pytest.raises(ConfigError, match=r"FedAdam.*replayable"):
        create_flower_task(
            federation, TASK, initial=ArrayRecord(get_model()), strategy=FedAdam(), rounds=1, aggregator="agg"
        )
    assert snapshot(federation.path) == before
    create_flower_task(
        federation, TASK, initial=ArrayRecord(get_model()), strategy=_strategy(), rounds=1, aggregator="agg"
    )
    with pytest.raises(ConfigError, match="records flwr:FedAvg"):
        _run(federation, app, _strategy(FedProx, proximal_mu=1.0))


def test_the_unmodified_app_cannot_join(federation: Home) -> None:
    create_flower_task(
        federation, TASK, initial=ArrayRecord(get_model()), strategy=_strategy(), rounds=1, aggregator="agg"
    )
    served = _run(federation, plain_app, _strategy())
    assert len(served.join_problems) == 2
    with federation.open_ledger(as_validator=False) as ledger:
        assert participants(ledger.state(), TASK) == []
        recorded = round_record(ledger.state(), TASK, 1)
    assert recorded is not None and recorded.status == "failed" and len(recorded.invalid) == 2


def _failing_app() -> ClientApp:
    """The quickstart app with the mod, whose partition 1 crashes while training (after it joined)."""
    broken = ClientApp(mods=[ledger_mod(key="$QUICKSTART_KEYS/org{partition-id}.json")])

    @broken.train()
    def crashing_train(msg: Message, context: Context) -> Message:
        if int(context.node_config["partition-id"]) == 1:
            raise RuntimeError("out of memory")
        return train(msg, context)

    return broken


def test_an_invalid_reply_names_the_nodes_participant(federation: Home) -> None:
    create_flower_task(
        federation, TASK, initial=ArrayRecord(get_model()), strategy=_strategy(), rounds=1, aggregator="agg"
    )
    _run(federation, _failing_app(), _strategy())
    with federation.open_ledger(as_validator=False) as ledger:
        recorded = round_record(ledger.state(), TASK, 1)
    assert recorded is not None and recorded.status == "ok"
    ((who, reason),) = recorded.invalid
    assert who == federation.keys.info("org1").address  # not the zero address
    assert reason.startswith("node 2: client error:") and "out of memory" in reason


def _message(content: RecordDict, message_type: str = "train") -> Message:
    from flwr.supercore.task_identity import TaskIdentity

    TaskIdentity.run_id, TaskIdentity.node_id, TaskIdentity.task_id = 1, 1, 1
    return Message(content, dst_node_id=1, message_type=message_type)


def _context() -> Context:
    return local_contexts(1)[1]


def test_a_plain_flower_server_message_passes_through_the_mod(federation: Home) -> None:
    message = _message(RecordDict({"arrays": ArrayRecord(get_model()), "config": ConfigRecord({"lr": 0.1})}))
    with LocalGrid(app, local_contexts(1)):
        reply = app(message, _context())
    assert not reply.has_error() and "ledgerml" not in reply.content and len(reply.content.array_records) == 1


def test_the_mod_refuses_what_it_cannot_sign(federation: Home, tmp_path: Path) -> None:
    ledger_config = ConfigRecord(
        {"task": TASK, "round": 1, "base": "sha256:" + "0" * 64, "ledger": "0" * 32, "nonces": "{}"}
    )
    message = _message(
        RecordDict({"arrays": ArrayRecord(get_model()), "config": ConfigRecord(), "ledgerml": ledger_config})
    )
    nokey = ClientApp(mods=[ledger_mod(key=str(tmp_path / "missing.json"))])
    nokey.train()(lambda msg, ctx: Message(msg.content, reply_to=msg))
    with LocalGrid(app, local_contexts(1)):
        with pytest.raises(Exception, match="no identity named 'missing'"):
            nokey(message, _context())
        with pytest.raises(ConfigError, match="not the global model the ledger names"):
            app(message, _context())
    with pytest.raises(ConfigError, match="stake"):
        ledger_mod(stake=-1)


def test_a_bad_example_count_is_refused_before_signing() -> None:
    from ledgerml.federated.mod import example_count

    for bad in (1.5, -1, "many", True):
        with pytest.raises(ConfigError, match="num-examples"):
            example_count({"num-examples": bad}, "num-examples")  # type: ignore[arg-type]
    assert example_count(MetricRecord({"num-examples": 40}), "num-examples") == 40


def test_the_auditor_catches_an_aggregate_the_strategy_did_not_make(
    federation: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ledgerml.federated.flower_rules as flower_rules

    create_flower_task(
        federation, TASK, initial=ArrayRecord(get_model()), strategy=_strategy(), rounds=1, aggregator="agg"
    )
    honest = flower_rules.flower_aggregate

    def lying(*args: Any) -> dict[str, np.ndarray]:
        return {name: array + np.float32(0.5) for name, array in honest(*args).items()}

    monkeypatch.setattr(flower_rules, "flower_aggregate", lying)
    _run(federation, app, _strategy())
    monkeypatch.setattr(flower_rules, "flower_aggregate", honest)
    audit = run_cli("audit", "task", TASK, "--home", str(federation.path), "--json")
    assert audit.code == 34, audit.out + audit.err
    assert "differs from the replay" in audit.out


def test_own_arrays_with_a_robust_ledger_rule_and_rewards_valued_by_a_server_score(federation: Home) -> None:
    from ledgerml.incentives import audit_rewards
    from ledgerml.vocab.rewards import payouts

    def utility(arrays: dict[str, np.ndarray]) -> float:
        return -evaluate(arrays)["val_mse"]

    create_flower_task(
        federation,
        TASK,
        initial=ArrayRecord(get_model()),
        strategy="median",
        rounds=2,
        aggregator="agg",
        reward_pool=1000,
        max_update_norm=50.0,
    )
    with pytest.raises(ConfigError, match="utility"):
        _run(federation, app, _strategy())
    with LocalGrid(app, local_contexts(2)) as grid:
        serve_flower_task(grid, federation, TASK, _strategy(), evaluate=evaluate, utility=utility)
    with federation.open_ledger(as_validator=False) as ledger:
        paid = payouts(ledger.state(), TASK)
        assert sorted(paid.rewards) == [1, 2] and all(sum(dict(r.payments).values()) > 0 for r in paid.rewards.values())
        assert audit_rewards(ledger, federation.store(), TASK, utility) == []
        assert audit_rewards(ledger, federation.store(), TASK, lambda arrays: 0.0) != []  # another utility: caught
    no_utility = run_cli("audit", "task", TASK, "--home", str(federation.path))
    assert no_utility.code == 2 and one_error_line(no_utility.err) and "--utility" in no_utility.err, no_utility.err
    scores = federation.path.parent / "scores.py"
    scores.write_text(
        "from quickstart_ledger.server_app import evaluate\n\n"
        "def utility(arrays):\n    return -evaluate(arrays)['val_mse']\n\n"
        "def zero(arrays):\n    return 0.0\n"
    )
    home = ("--home", str(federation.path))
    audited = run_cli("audit", "task", TASK, *home, "--utility", f"{scores}:utility", "--json")
    assert audited.code == 0 and json.loads(audited.out)["ok"] is True, audited.out + audited.err
    other = run_cli("audit", "task", TASK, *home, "--utility", f"{scores}:zero", "--json")
    assert other.code == 34 and "contributions" in other.out, other.out + other.err  # another utility: caught
    before = snapshot(federation.path)
    for reference, message in [
        ("scores", "MODULE:FUNCTION"),
        (f"{scores}:missing", "has no function 'missing'"),
        (f"{scores.with_name('nope.py')}:utility", "does not exist"),
        ("no_such_module_here:utility", "cannot import"),
    ]:
        bad = run_cli("audit", "task", TASK, *home, "--utility", reference)
        assert bad.code == 2 and one_error_line(bad.err) and message in bad.err, (reference, bad.err)
    assert snapshot(federation.path) == before


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"initial": {}}, "no arrays"),
        ({"strategy": "no-such-rule"}, "unknown aggregation rule"),
        ({"rule_params": {"proximal_mu": 1.0}}, "taken from the Flower strategy"),
        ({"rounds": 0}, "setting 'rounds' of the task is refused"),
    ],
)
def test_bad_task_settings_are_one_error_and_write_nothing(
    federation: Home, settings: dict[str, Any], message: str
) -> None:
    before = snapshot(federation.path)
    arguments: dict[str, Any] = {
        "initial": ArrayRecord(get_model()),
        "strategy": _strategy(),
        "rounds": 1,
        "aggregator": "agg",
        **settings,
    }
    with pytest.raises(ConfigError, match=message):
        create_flower_task(federation, TASK, **arguments)
    assert snapshot(federation.path) == before


def test_a_bad_stake_in_the_node_config_is_refused(federation: Home) -> None:
    from ledgerml.federated.mod import LedgerMod

    context = local_contexts(1)[1]
    context.node_config["ledgerml-stake"] = "lots"
    with pytest.raises(ConfigError, match="ledgerml-stake"):
        LedgerMod()._stake(context, {})


def test_ledgermls_own_clientapp_tells_a_plain_flower_server_what_is_missing(federation: Home) -> None:
    from ledgerml.federated.apps import client_app

    message = _message(RecordDict({"arrays": ArrayRecord(get_model()), "config": ConfigRecord()}))
    with pytest.raises(ConfigError, match=r"takes part only in a ledgerml federation.*ledger_mod"):
        client_app(message, _context())


def test_a_supernodes_node_config_wins_and_an_unset_variable_is_named(
    federation: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ledgerml.federated.mod import LedgerMod

    context = local_contexts(1)[1]
    mod = LedgerMod(key="$QUICKSTART_KEYS/org{partition-id}.json", datasets=("sha256:" + "1" * 64,), stake=3)
    assert mod.identity(context).address == federation.keys.info("org0").address
    context.node_config.update(
        {"ledgerml-key": str(federation.keys.folder / "org1.json"), "ledgerml-stake": 5, "ledgerml-datasets": "a b"}
    )
    assert mod.identity(context).address == federation.keys.info("org1").address
    assert (mod._stake(context, {}), mod._datasets(context, mod.identity(context), {})) == (5, ["a", "b"])
    monkeypatch.delenv("QUICKSTART_KEYS")
    with pytest.raises(ConfigError, match="QUICKSTART_KEYS, which is not set"):
        mod.identity(local_contexts(1)[1])


def test_the_mod_keeps_receipts_riding_on_train_messages_and_a_bad_one_costs_no_update(
    federation: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Round 1's receipts ride on round 2's train messages through ``ledger_mod``: one with its signature altered
    is not kept, its problem comes back in the reply, and the node's round-2 update still counts; the other is
    kept; round 2's arrive on receipt messages of their own after the last round."""
    from ledgerml.federated import flower
    from ledgerml.federated.mod import KEY, RECEIPT

    create_flower_task(
        federation, TASK, initial=ArrayRecord(get_model()), strategy=_strategy(), rounds=2, aggregator="agg"
    )
    original, rode = flower.LedgerStrategy.configure_train, []

    def tampering(self: flower.LedgerStrategy, *args: Any) -> Any:
        messages = list(original(self, *args))
        for message in messages:
            record = dict(message.content[KEY])
            if RECEIPT in record:
                rode.append(json.loads(str(record[RECEIPT])))
                if message.metadata.dst_node_id == 1:
                    altered = {**rode[-1], "signature": "0x" + "00" * 65}
                    message.content[KEY] = ConfigRecord({**record, RECEIPT: json.dumps(altered)})
        return messages

    monkeypatch.setattr(flower.LedgerStrategy, "configure_train", tampering)
    with caplog.at_level(logging.WARNING, logger="ledgerml.federated"):
        served = _run(federation, app, _strategy())
    (problem,) = [r.getMessage() for r in caplog.records if "did not take its receipt" in r.getMessage()]
    assert problem.startswith("node 1 did not take its receipt: receipt not kept: signature v must be 27 or 28")
    assert [len(o.accepted) for o in served.history] == [2, 2] and [r["round"] for r in rode] == [1, 1]
    kept = [
        json.loads(line)
        for log in (tmp_path / "receipts").rglob("receipts.jsonl")
        for line in log.read_bytes().splitlines()
    ]
    assert sorted(r["round"] for r in kept) == [1, 2, 2]  # node 1's round-1 receipt was refused
