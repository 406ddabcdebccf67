"""Federated learning on the ledger: task rules, the coordinator, the round auditor, the Flower apps."""

from __future__ import annotations

import json
import math
import os
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerml.errors import DuplicateRegistration, InvalidTransition, MalformedEvent, Unauthorized
from ledgerml.events import sign_event
from ledgerml.federated.apps import run_in_process
from ledgerml.federated.audit import audit_task
from ledgerml.federated.coordinator import Reply, TaskCoordinator
from ledgerml.federated.runner import FederationConfig, load_participant, load_plan, round_history, setup_federation
from ledgerml.home import Home
from ledgerml.ml.serialization import from_bytes, to_bytes
from ledgerml.vocab.tasks import RoundFinalized, UpdateCommitted, commits, progress, task

os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
os.environ.setdefault("FLWR_DISABLE_UPDATE_CHECK", "1")


@pytest.fixture
def home(tmp_path: Path) -> Home:
    target = Home(tmp_path / "home")
    target.init(unencrypted=True)
    return target


def planned(home: Home, **settings: object) -> FederationConfig:
    config = FederationConfig(**{"task_id": "t1", "participants": 4, "rounds": 3, "epochs": 1, **settings})  # type: ignore[arg-type]
    setup_federation(home, config, unencrypted=True)
    return config


def coordinator(home: Home, task_id: str = "t1") -> TaskCoordinator:
    return TaskCoordinator(
        home.open_ledger(), home.store(), home.identity(load_plan(home, task_id).aggregator), task_id
    )


def join_all(home: Home, task_id: str = "t1") -> list:  # type: ignore[type-arg]
    people = [load_participant(home, task_id, i) for i in range(len(load_plan(home, task_id).participants))]
    ledger = home.open_ledger()
    for p in people:
        ledger.append(p.join(ledger.ledger_id, task_id, ledger.next_nonce(p.address)))
    ledger.close()
    return people


def replies_for(coord: TaskCoordinator, people: list) -> list[Reply]:  # type: ignore[type-arg]
    cfg = coord.train_config()
    cfg["nonces"] = json.dumps({p.address: coord.ledger.next_nonce(p.address) for p in people})
    spec = coord.model_spec()
    out = []
    for p in people:
        data, event, _ = p.train(to_bytes(coord.global_weights()), cfg, spec)
        out.append(Reply(p.address, event.to_dict(), data))
    return out


def test_real_server_and_client_apps_in_process(home: Home) -> None:
    planned(home, rule="trimmed_mean", rule_params={"beta": 0.25})
    strategy = run_in_process(home, "t1")
    assert [o.status for o in strategy.history] == ["ok", "ok", "ok"]
    history = round_history(home, "t1")
    assert history[-1]["metrics"]["val_accuracy"] > history[0]["metrics"]["val_accuracy"] - 0.05
    ledger = home.open_ledger()
    assert audit_task(ledger, home.store(), "t1").ok and ledger.verify().ok
    assert progress(ledger.state(), "t1").finalized == 3
    ledger.close()


def test_malformed_updates_are_rejected_and_recorded(home: Home) -> None:
    planned(home, participants=5, max_update_norm=50.0, min_participants=1)
    people = join_all(home)
    coord = coordinator(home)
    replies = replies_for(coord, people)
    base = coord.global_weights()
    spec_cfg = coord.train_config()

    def recommit(index: int, weights: dict) -> None:  # type: ignore[type-arg]
        data = to_bytes(weights)
        event = sign_event(
            people[index].identity,
            coord.ledger.ledger_id,
            UpdateCommitted(
                task_id="t1",
                round=1,
                update_digest="sha256:" + __import__("hashlib").sha256(data).hexdigest(),
                base_digest=spec_cfg["base"],
                num_examples=10,
            ),
            coord.ledger.next_nonce(people[index].address),
        )
        replies[index] = Reply(people[index].address, event.to_dict(), data)

    recommit(1, {k: np.full_like(v, np.nan) for k, v in base.items()})
    recommit(2, {k: (np.zeros((3, 3)) if k == "W" else v) for k, v in base.items()})
    recommit(3, {k: v + 1000.0 for k, v in base.items()})
    forged = dict(replies[4].event)  # type: ignore[arg-type]
    forged["signature"] = replies[0].event["signature"]  # type: ignore[index]
    replies[4] = Reply(people[4].address, forged, replies[4].update)
    outcome = coord.process_round(replies)
    assert outcome.status == "ok" and outcome.accepted == [people[0].address]
    assert "non-finite" in outcome.rejected[people[1].address]
    assert "shape" in outcome.rejected[people[2].address]
    assert "exceeds the bound" in outcome.rejected[people[3].address]
    assert any("SignerMismatch" in reason for _, reason in outcome.invalid)
    state = coord.ledger.state()
    assert set(commits(state, "t1", 1)) == {p.address for p in people[:4]}  # the forged one never got on
    assert audit_task(coord.ledger, home.store(), "t1").ok
    coord.ledger.close()


def test_participant_dropping_out(home: Home) -> None:
    planned(home, participants=4, rounds=2)
    strategy = run_in_process(home, "t1", drop={3})
    assert [len(o.accepted) for o in strategy.history] == [3, 3]
    ledger = home.open_ledger()
    assert audit_task(ledger, home.store(), "t1").ok
    ledger.close()


def test_task_rules_in_the_state_machine(home: Home) -> None:
    planned(home, participants=3)
    coord = coordinator(home)
    people = [load_participant(home, "t1", i) for i in range(3)]
    ledger = coord.ledger
    cfg = coord.train_config()
    outsider = sign_event(
        people[0].identity,
        ledger.ledger_id,
        UpdateCommitted(
            task_id="t1", round=1, update_digest="sha256:" + "1" * 64, base_digest=cfg["base"], num_examples=1
        ),
        ledger.next_nonce(people[0].address),
    )
    with pytest.raises(Unauthorized, match="not joined"):
        ledger.append(outsider)
    join_all(home)
    for bad_round, error in ((2, InvalidTransition), (0, MalformedEvent)):
        with pytest.raises(error):  # round 0: sign_event re-validates the payload; round 2: not the open round
            event = sign_event(
                people[0].identity,
                ledger.ledger_id,
                UpdateCommitted.model_construct(
                    task_id="t1",
                    round=bad_round,
                    update_digest="sha256:" + "1" * 64,
                    base_digest=cfg["base"],
                    num_examples=1,
                ),
                ledger.next_nonce(people[0].address),
            )
            ledger.append(event)
    stale = sign_event(
        people[0].identity,
        ledger.ledger_id,
        UpdateCommitted(
            task_id="t1", round=1, update_digest="sha256:" + "1" * 64, base_digest="sha256:" + "2" * 64, num_examples=1
        ),
        ledger.next_nonce(people[0].address),
    )
    with pytest.raises(InvalidTransition, match="current global"):
        ledger.append(stale)
    replies = replies_for(coord, people)
    ledger.append(event_of(replies[0]))
    with pytest.raises(DuplicateRegistration):
        ledger.append(
            sign_event(
                people[0].identity,
                ledger.ledger_id,
                UpdateCommitted(
                    task_id="t1", round=1, update_digest="sha256:" + "3" * 64, base_digest=cfg["base"], num_examples=1
                ),
                ledger.next_nonce(people[0].address),
            )
        )
    finalize = RoundFinalized(
        task_id="t1",
        round=1,
        status="ok",
        aggregate_digest="sha256:" + "4" * 64,
        accepted=[people[0].address, people[1].address],
    )
    with pytest.raises(Unauthorized, match="aggregator"):
        ledger.submit(people[0].identity, finalize)
    with pytest.raises(InvalidTransition, match="never committed"):
        ledger.submit(coord.aggregator, finalize)
    with pytest.raises(InvalidTransition, match="neither accepted nor rejected"):
        ledger.submit(coord.aggregator, RoundFinalized(task_id="t1", round=1, status="failed", aggregate_digest=None))
    ledger.close()


def event_of(reply: Reply):  # type: ignore[no-untyped-def]
    from ledgerml.events import event_from_dict

    return event_from_dict(reply.event)


def _finished(home: Home, **settings: object) -> tuple[str, list[str]]:
    planned(home, **settings)
    run_in_process(home, "t1")
    ledger = home.open_ledger()
    state = ledger.state()
    updates = [c.update_digest for c in commits(state, "t1", 2).values()]
    aggregate = progress(state, "t1").global_digest
    ledger.close()
    return aggregate, updates


def _audit_problems(home: Home) -> list[str]:
    ledger = home.open_ledger()
    try:
        report = audit_task(ledger, home.store(), "t1")
        return [p for r in report.rounds for p in r.problems] + report.problems
    finally:
        ledger.close()


def _overwrite(home: Home, digest: str, data: bytes) -> None:
    path = home.store().path_of(digest)  # type: ignore[attr-defined]
    path.chmod(0o644)
    path.write_bytes(data)


def test_auditor_catches_a_changed_stored_update(home: Home) -> None:
    _, updates = _finished(home)
    weights = from_bytes(home.store().get(updates[0]))
    _overwrite(home, updates[0], to_bytes({k: v + 0.01 for k, v in weights.items()}))
    problems = _audit_problems(home)
    assert any("corrupted" in p for p in problems), problems


def test_auditor_catches_a_changed_aggregate(home: Home) -> None:
    aggregate, _ = _finished(home)
    weights = from_bytes(home.store().get(aggregate))
    _overwrite(home, aggregate, to_bytes({k: v * 0 for k, v in weights.items()}))
    problems = _audit_problems(home)
    assert any("aggregate" in p or "base model" in p for p in problems), problems


def test_auditor_catches_a_forged_commitment(home: Home) -> None:
    _finished(home)
    conn = sqlite3.connect(home.ledger_path)
    seq, body = conn.execute("SELECT seq, body FROM events WHERE kind = 'UpdateCommitted' ORDER BY seq DESC").fetchone()
    data = json.loads(body)
    data["payload"]["num_examples"] -= 1  # change what was signed (more than the records would fail replay)
    forged = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    conn.execute("UPDATE events SET body = ? WHERE seq = ?", (forged, seq))
    conn.commit()
    conn.close()
    problems = _audit_problems(home)
    assert any("signed" in p and "commitment" in p for p in problems), problems


def test_auditor_catches_an_unjustified_rejection(home: Home) -> None:
    planned(home, participants=4, rounds=1, min_participants=1)
    people = join_all(home)
    coord = coordinator(home)
    for reply in replies_for(coord, people):
        coord.ledger.append(event_of(reply))
        home.store().put(reply.update)  # type: ignore[arg-type]
    honest = sorted(p.address for p in people)
    result_digest = home.store().put(to_bytes(coord.global_weights()))
    from ledgerml.vocab.tasks import Rejection

    coord.ledger.submit(
        coord.aggregator,
        RoundFinalized(  # the aggregator drops an honest update with a false reason
            task_id="t1",
            round=1,
            status="ok",
            aggregate_digest=str(result_digest),
            accepted=honest[1:],
            rejected=[Rejection(participant=honest[0], reason="update norm 999 exceeds the bound 1")],
        ),
    )
    coord.ledger.close()
    problems = _audit_problems(home)
    assert any("is not what the rule gives" in p for p in problems), problems
    assert any("aggregate digest" in p for p in problems), problems


def test_aggregator_restarts_without_finalizing_twice(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    planned(home, rounds=3)
    original = TaskCoordinator.process_round

    def crash_in_round_two(self, replies, **kwargs):  # type: ignore[no-untyped-def]
        if self.open_round() == 2:
            self._accept_commitments(2, replies)  # commitments land, then the aggregator dies
            raise KeyboardInterrupt("aggregator killed")
        return original(self, replies, **kwargs)

    monkeypatch.setattr(TaskCoordinator, "process_round", crash_in_round_two)
    with pytest.raises(KeyboardInterrupt):
        run_in_process(home, "t1")
    ledger = home.open_ledger()
    assert progress(ledger.state(), "t1").finalized == 1 and len(commits(ledger.state(), "t1", 2)) == 4
    ledger.close()
    monkeypatch.setattr(TaskCoordinator, "process_round", original)
    run_in_process(home, "t1")  # a new aggregator process resumes from the ledger
    ledger = home.open_ledger()
    finalized = [s.event.payload["round"] for s in ledger.events() if s.event.kind == "RoundFinalized"]
    assert finalized == [1, 2, 3]
    assert audit_task(ledger, home.store(), "t1").ok and ledger.verify().ok
    assert task(ledger.state(), "t1") is not None
    ledger.close()


def test_dp_task_records_its_budget(home: Home) -> None:
    planned(home, rounds=2, dp={"clip": 1.0, "noise_multiplier": 1.5, "delta": 1e-5}, max_update_norm=None)
    run_in_process(home, "t1")
    history = round_history(home, "t1")
    eps = [r["metrics"]["dp_epsilon"] for r in history]
    assert 0 < eps[0] < eps[1] < 100
    ledger = home.open_ledger()
    assert json.loads(task(ledger.state(), "t1").dp)["noise_multiplier"] == 1.5  # type: ignore[union-attr]
    assert audit_task(ledger, home.store(), "t1").ok
    ledger.close()


def test_bad_federation_configs(tmp_path: Path) -> None:
    from ledgerml.errors import ConfigError

    for bad in (
        {"rule": "average"},
        {"attack": "alien"},
        {"participants": 0},
        {"partition": "random"},
        {"dataset": "mnist"},
        {"names": ["a"]},
        {"rule": "median", "rule_params": {"f": 1}},
    ):
        with pytest.raises(ConfigError):
            FederationConfig(**bad)  # type: ignore[arg-type]
    (tmp_path / "bad.toml").write_text("[federation]\nrounds = 'many'\ncolour = 1\n")
    with pytest.raises(ConfigError, match="colour"):
        FederationConfig.from_toml(tmp_path / "bad.toml")
    (tmp_path / "broken.toml").write_text("[federation\n")
    with pytest.raises(ConfigError, match="TOML"):
        FederationConfig.from_toml(tmp_path / "broken.toml")


@pytest.mark.parametrize(
    "example", sorted((Path(__file__).parents[2] / "examples" / "federations").glob("*.toml")), ids=lambda p: p.stem
)
def test_example_federations_run(tmp_path: Path, example: Path) -> None:
    import dataclasses

    home = Home(tmp_path / "home")
    home.init(unencrypted=True)
    config = dataclasses.replace(FederationConfig.from_toml(example), rounds=2)
    setup_federation(home, config, unencrypted=True)
    strategy = run_in_process(home, config.task_id)
    assert len(strategy.history) == 2
    ledger = home.open_ledger()
    assert audit_task(ledger, home.store(), config.task_id).ok
    ledger.close()


# -- issue 21: hostile configs, replies and faults ----------------------------------------------------------


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path):  # type: ignore[no-untyped-def]
    """The real entry point in process; every call must end without a traceback."""
    from ledgerml.cli import main

    monkeypatch.setenv("LEDGERML_HOME", str(tmp_path / "clihome"))
    monkeypatch.delenv("LEDGERML_PASSWORD", raising=False)
    monkeypatch.setenv("COLUMNS", "250")

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["ledgerml", *args])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err
        return CliResult(code, captured.out, captured.err)

    return run


def _files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` except SQLite's WAL side files, with its bytes."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(("-wal", "-shm"))
    }


def _event_count(home_path: Path) -> int:
    conn = sqlite3.connect(home_path / "ledger.db")
    try:
        return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
    finally:
        conn.close()


BASE_TOML = 'task_id = "ok-task"\nparticipants = 2\nrounds = 1\n'
BAD_CONFIGS = [  # (TOML text, setting the error must name)
    ("[federation]\nrounds = 1e9\n", "rounds"),
    ("[federation]\nrounds = 1000000000\n", "rounds"),
    ("[federation]\nrounds = true\n", "rounds"),
    ('[federation]\ntask_id = "Upper-Case"\n', "task_id"),
    ('[federation]\ntask_id = ""\n', "task_id"),
    ("[federation]\nparticipants = 100000\n", "participants"),
    ("[federation]\nparticipants = -3\n", "participants"),
    ("[federation]\nparticipants = 2.5\n", "participants"),
    ("[federation]\nmax_update_norm = -1.0\n", "max_update_norm"),
    ("[federation]\nmax_update_norm = inf\n", "max_update_norm"),
    ('[federation]\nmodel = { type = "mlp", hidden = 1e8 }\n', "model.hidden"),
    ('[federation]\nmodel = { type = "mlp", hidden = 100000000 }\n', "model.hidden"),
    ('[federation]\nmodel = { type = "cnn" }\n', "model"),
    ('[federation]\nmodel = { type = "softmax", n_features = 3 }\n', "model"),
    ('[federation]\nlr = "x"\n', "lr"),
    ("[federation]\nlr = 0\n", "lr"),
    ("[federation]\nlr = nan\n", "lr"),
    ("[federation]\nepochs = 0\n", "epochs"),
    ("[federation]\nepochs = 1000000\n", "epochs"),
    ("[federation]\nbatch_size = 0\n", "batch_size"),
    ("[federation]\nmin_participants = 0\n", "min_participants"),
    ("[federation]\nparticipants = 2\nmin_participants = 3\n", "min_participants"),
    ("[federation]\nseed = -1\n", "seed"),
    ("[federation]\nvalidation_fraction = 1.5\n", "validation_fraction"),
    ("[federation]\nalpha = 0\n", "alpha"),
    ('[federation]\nrule = "trimmed_mean"\nrule_params = { beta = 0.9 }\n', "rule_params.beta"),
    ('[federation]\nrule = "krum"\nrule_params = { f = -1 }\n', "rule_params.f"),
    ('[federation]\nrule = "norm_clipped_mean"\nrule_params = { clip = -2.0 }\n', "rule_params.clip"),
    ('[federation]\nnames = ["a", "a"]\nparticipants = 2\n', "names"),
    ('[federation]\nnames = ["bad name!"]\nparticipants = 1\n', "names"),
    ('[federation]\naggregator = "../evil"\n', "aggregator"),
    ("[dp]\nclip = 1.0\nnoise_multiplier = 0.0\ndelta = 1e-5\n", "dp.noise_multiplier"),
    ("[dp]\nclip = 1.0\nnoise_multiplier = 1.0\ndelta = 2.0\n", "dp.delta"),
    ("[dp]\nclip = -1.0\nnoise_multiplier = 1.0\ndelta = 1e-5\n", "dp.clip"),
    ("[dp]\nclip = 1.0\nnoise_multiplier = 1e-300\ndelta = 1e-5\n", "dp.noise_multiplier"),
    ("[dp]\nclip = 1.0\n", "dp"),
    ("[rewards]\nstake = -5\n", "rewards.stake"),
    ("[rewards]\nreward_pool = 1e30\n", "rewards.reward_pool"),
    ("[rewards]\nslash_amount = -1\n", "rewards.slash_amount"),
    ('[rewards]\nslash_on = [""]\n', "slash_on"),
    ('[rewards]\nvaluation = { method = "guess" }\n', "valuation.method"),
    ("[rewards]\nvaluation = { permutations = 0 }\n", "valuation.permutations"),
    ("[rewards]\ncolour = 1\n", "colour"),
    ('[attack]\nkind = "sign_flip"\nparticipants = [7]\n', "attack.participants"),
    ('[attack]\nkind = "scaling"\nparams = { boost = inf }\n', "attack.params.boost"),
    ('[attack]\nkind = "alien"\n', "attack.kind"),
    ("[extra]\nx = 1\n", "extra"),
]


@pytest.mark.parametrize("text,setting", BAD_CONFIGS, ids=[f"{i}-{s}" for i, (_, s) in enumerate(BAD_CONFIGS)])
def test_invalid_federation_configs_write_nothing(cli, tmp_path: Path, text: str, setting: str) -> None:  # type: ignore[no-untyped-def]
    assert cli("init", "--unencrypted").code == 0
    root = tmp_path / "clihome"
    if not text.startswith("[federation]"):
        text = "[federation]\n" + BASE_TOML + text
    else:
        text = text.replace(
            "[federation]\n",
            "[federation]\n"
            + "".join(line + "\n" for line in BASE_TOML.splitlines() if line.split(" = ")[0] not in text),
            1,
        )
    (tmp_path / "bad.toml").write_text(text)
    before, events = _files(root), _event_count(root)
    result = cli("fl", "run", str(tmp_path / "bad.toml"), "--unencrypted")
    assert result.code == 2, (result, text)
    assert setting in result.err and len(result.err.strip().splitlines()) == 1, result.err
    assert _event_count(root) == events and _files(root) == before


SCHEMA_MISTAKES = [  # (TOML text, the one line must contain)
    ('[atack]\nkind = "sign_flip"\n', "unknown table [atack] in bad.toml; did you mean 'attack'?"),
    ("[rewards]\nreward_pol = 5\n", "unknown key 'rewards.reward_pol' in bad.toml; did you mean 'reward_pool'?"),
    ('[rewards]\nvaluation = { method = "exact", perms = 3 }\n', "unknown key 'rewards.valuation.perms'"),
    ('[federation]\nrounds = "10"\n', "setting 'federation.rounds' in bad.toml must be an integer, got '10'"),
    ('[federation]\nnames = ["a", 3]\nparticipants = 2\n', "setting 'federation.names[1]' in bad.toml must be a"),
    ('[attack]\nparams = { scale = "big" }\n', "setting 'attack.params.scale' in bad.toml must be a number"),
    ('[federation]\nmodel = { type = "cnn" }\n', "setting 'federation.model.type' in bad.toml must be one of"),
    ("[dp]\nclip = 1.0\n", "key 'dp.noise_multiplier' is missing in bad.toml"),
    ("federation = 3\n", "setting 'federation' in bad.toml must be a table, got 3"),
]


@pytest.mark.parametrize("text,message", SCHEMA_MISTAKES, ids=[m[:24] for _, m in SCHEMA_MISTAKES])
def test_schema_mistakes_are_one_line_naming_the_key(cli, tmp_path: Path, text: str, message: str) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "bad.toml").write_text(text)
    for command in ("validate", "run"):
        extra = ["--unencrypted"] if command == "run" else []
        result = cli("fl", command, str(tmp_path / "bad.toml"), *extra)
        assert result.code == 2 and len(result.err.strip().splitlines()) == 1, result.err
        assert message in result.err.replace(str(tmp_path) + "/", ""), result.err
    assert not (tmp_path / "home").exists()  # the schema is checked before a home is even opened


def test_schema_table_in_the_docs_is_the_schema() -> None:
    from ledgerml.federated.schema import schema_table

    docs = (Path(__file__).parents[2] / "docs" / "federation-config.md").read_text()
    assert schema_table() in docs, "regenerate the table: python -c 'from ledgerml.federated.schema import ...'"


def test_every_example_validates_and_dataclass_fields_are_all_in_the_schema(cli) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    from ledgerml.federated.schema import FederationTable, config_settings

    for example in sorted((Path(__file__).parents[2] / "examples" / "federations").glob("*.toml")):
        result = cli("fl", "validate", str(example), "--json")
        assert result.code == 0 and json.loads(result.out)["ok"], result.err
    everything = {
        "federation": {"task_id": "t", "model": {"type": "mlp", "hidden": 4}},
        "attack": {"kind": "scaling", "participants": [0], "fraction": 0.0, "params": {"boost": 2.0}},
        "dp": {"clip": 1.0, "noise_multiplier": 1.0, "delta": 1e-5},
        "rewards": {"reward_pool": 1, "stake": 1, "initial_tokens": 1, "slash_on": ["x"], "slash_amount": 1,
                    "valuation": {"method": "monte_carlo", "permutations": 2}},
        "screening": {"action": "exclude"},
    }  # fmt: skip
    settings_ = config_settings(everything, "t.toml")
    reachable = set(FederationTable.model_fields) | set(settings_)
    assert {f.name for f in dataclasses.fields(FederationConfig)} <= reachable
    FederationConfig(**settings_)


def test_a_task_resumes_only_with_its_own_settings(cli, home: Home, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from ledgerml.errors import ConfigError
    from ledgerml.federated.workflow import check_same_task, run_federation

    config = planned(home)
    check_same_task(home, config)  # the same settings: resumes
    changed = FederationConfig(task_id="t1", participants=4, rounds=5, epochs=1, lr=0.1)
    before = _files(home.path)
    with pytest.raises(ConfigError, match=r"task 't1' exists with other settings \(rounds: 3 -> 5; lr: 0.5 -> 0.1\)"):
        run_federation(home, changed)
    assert _files(home.path) == before
    (tmp_path / "changed.toml").write_text('[federation]\ntask_id = "t1"\nparticipants = 4\nrounds = 5\n')
    result = cli("fl", "validate", str(tmp_path / "changed.toml"), "--home", str(home.path))
    assert result.code == 2 and "rounds: 3 -> 5" in result.err and len(result.err.strip().splitlines()) == 1


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["rounds", "participants", "epochs", "batch_size", "min_participants", "seed", "lr", "alpha"]),
    st.one_of(
        st.integers(max_value=0),
        st.integers(min_value=10**6),
        st.floats(allow_nan=True, allow_infinity=True).filter(lambda x: not math.isfinite(x) or x <= 0),
        st.text(max_size=5),
        st.booleans(),
        st.none(),
    ),
)
def test_config_bounds_name_the_setting(setting: str, value: object) -> None:
    from ledgerml.errors import ConfigError

    if setting == "seed" and type(value) is int and 0 <= value <= 2**32 - 1:
        value = -1
    with pytest.raises(ConfigError, match=f"'{setting}'"):
        FederationConfig(**{"task_id": "t", "participants": 2, setting: value})  # type: ignore[arg-type]


def _hostile_commit(person, ledger_id: str, nonce: int, **payload: object):  # type: ignore[no-untyped-def]
    """A correctly signed commitment whose payload skips every client-side check."""
    from ledgerml.events import Event, now_ms

    fields = dict(kind="UpdateCommitted", actor=person.address, nonce=nonce, time=now_ms(), payload=payload)
    unsigned = Event(ledger=ledger_id, **fields)  # type: ignore[arg-type]
    return Event(ledger=ledger_id, signature=person.identity.sign_digest(unsigned.digest), **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("claimed", [10**30, 2**1100, -1, True])
def test_hostile_example_counts_are_refused_before_commitment(home: Home, claimed: object) -> None:
    planned(home, participants=3, rounds=1, min_participants=1)
    people = join_all(home)
    coord = coordinator(home)
    replies = replies_for(coord, people)
    attacker = people[0]
    update = to_bytes({k: v + 0.5 for k, v in coord.global_weights().items()})
    digest = "sha256:" + __import__("hashlib").sha256(update).hexdigest()
    event = _hostile_commit(
        attacker,
        coord.ledger.ledger_id,
        replies_for(coord, [attacker])[0].event["nonce"],  # type: ignore[index]
        task_id="t1",
        round=1,
        update_digest=digest,
        base_digest=coord.train_config()["base"],
        num_examples=claimed,
    )
    replies[0] = Reply(attacker.address, event.to_dict(), update)
    outcome = coord.process_round(replies)
    assert outcome.status == "ok" and attacker.address not in outcome.accepted
    assert sorted(outcome.accepted) == sorted(p.address for p in people[1:])
    assert any(who == attacker.address and "num_examples" in why for who, why in outcome.invalid), outcome.invalid
    assert attacker.address not in commits(coord.ledger.state(), "t1", 1)
    assert not home.store().has(digest)  # a refused commitment leaves no bytes behind
    assert audit_task(coord.ledger, home.store(), "t1").ok
    coord.ledger.close()


def test_aggregation_arithmetic_never_raises(home: Home) -> None:
    from ledgerml.federated.coordinator import decide_round

    planned(home, participants=2, rounds=1)
    coord = coordinator(home)
    template = coord.global_weights()
    people = sorted(p for p in (load_participant(home, "t1", i).address for i in range(2)))
    usable = {people[0]: template, people[1]: {k: v + 1.0 for k, v in template.items()}}
    for examples in (
        {people[0]: 2**1100, people[1]: 1},
        {people[0]: 10**30, people[1]: 1},
        {people[0]: -5, people[1]: 1},
    ):
        decision = decide_round(coord.record, template, usable, examples)  # type: ignore[arg-type]
        assert decision.weights is None and decision.error and "example counts" in decision.error
        assert all(r.startswith("aggregation failed") for r in decision.rule_rejections().values())
    low = {k: np.full_like(v, -1.7e308) for k, v in template.items()}  # finite values whose change overflows
    huge = {a: {k: np.full_like(v, 1.7e308) for k, v in template.items()} for a in people}
    decision = decide_round(coord.record, low, huge, {people[0]: 1, people[1]: 1})  # type: ignore[arg-type]
    assert decision.weights is None and "non-finite" in str(decision.error)
    coord.ledger.close()


def test_a_failing_rule_finalizes_the_round_as_failed(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    from ledgerml.federated import aggregation

    def broken(deltas: np.ndarray, weights: np.ndarray) -> aggregation.AggregationResult:
        raise OverflowError("int too large to convert to float")

    monkeypatch.setitem(aggregation.RULES, "fedavg", broken)
    planned(home, participants=3, rounds=2)
    strategy = run_in_process(home, "t1")
    assert [o.status for o in strategy.history] == ["failed", "failed"]  # finalized, not wedged
    assert all(r.startswith("aggregation failed: OverflowError") for r in strategy.history[0].rejected.values())
    ledger = home.open_ledger()
    assert progress(ledger.state(), "t1").finalized == 2
    assert audit_task(ledger, home.store(), "t1").ok  # the replay fails the same way
    ledger.close()


def test_oversized_update_is_refused_and_not_stored(home: Home) -> None:
    planned(home, participants=2, rounds=1, min_participants=1)
    people = join_all(home)
    coord = coordinator(home)
    replies = replies_for(coord, people)
    big = b"\0" * (coord.max_update_bytes() + 1)
    digest = "sha256:" + __import__("hashlib").sha256(big).hexdigest()
    event = sign_event(
        people[0].identity,
        coord.ledger.ledger_id,
        UpdateCommitted(
            task_id="t1", round=1, update_digest=digest, base_digest=coord.train_config()["base"], num_examples=1
        ),
        replies[0].event["nonce"],  # type: ignore[index]
    )
    replies[0] = Reply(people[0].address, event.to_dict(), big)
    outcome = coord.process_round(replies)
    assert any("at most" in why for who, why in outcome.invalid if who == people[0].address), outcome.invalid
    assert not home.store().has(digest) and people[0].address not in commits(coord.ledger.state(), "t1", 1)
    coord.ledger.close()


def test_refused_commitment_leaves_no_bytes(home: Home) -> None:
    planned(home, participants=2, rounds=1, min_participants=1)
    people = join_all(home)
    coord = coordinator(home)
    replies = replies_for(coord, people)
    update = to_bytes({k: v + 0.25 for k, v in coord.global_weights().items()})
    digest = "sha256:" + __import__("hashlib").sha256(update).hexdigest()
    stale = sign_event(  # trained on another model: the state machine refuses it
        people[0].identity,
        coord.ledger.ledger_id,
        UpdateCommitted(task_id="t1", round=1, update_digest=digest, base_digest="sha256:" + "2" * 64, num_examples=1),
        replies[0].event["nonce"],  # type: ignore[index]
    )
    replies[0] = Reply(people[0].address, stale.to_dict(), update)
    outcome = coord.process_round(replies)
    assert any("InvalidTransition" in why for who, why in outcome.invalid if who == people[0].address)
    assert not home.store().has(digest)
    coord.ledger.close()


def test_deeply_nested_reply_is_that_participants_invalid_update(home: Home) -> None:
    from flwr.app import ConfigRecord

    from ledgerml.federated.apps import client_app, run_server
    from ledgerml.federated.flower import KEY, LocalGrid, local_contexts

    class HostileGrid(LocalGrid):
        def pull_messages(self, message_ids):  # type: ignore[no-untyped-def]
            replies = list(super().pull_messages(message_ids))
            for reply in replies:
                if reply.metadata.src_node_id == 1 and reply.has_content() and KEY in reply.content:
                    record = dict(reply.content[KEY])
                    if "update" in record:
                        record["event"] = "[" * 200_000 + "]" * 200_000  # 400 KB, 200,000 levels deep
                        reply.content[KEY] = ConfigRecord(record)
            return replies

    planned(home, participants=3, rounds=1, min_participants=1)
    with HostileGrid(client_app, local_contexts(3, {"home": str(home.path), "task": "t1"})) as grid:
        strategy = run_server(grid, home, "t1")
    outcome = strategy.history[0]
    assert outcome.status == "ok" and len(outcome.accepted) == 2
    assert any("node 1" in why and "bytes" in why for _, why in outcome.invalid), outcome.invalid


REWARDED_TOML = """[federation]
task_id = "paid"
participants = 5
rounds = 2
rule = "multi_krum"
rule_params = { f = 1 }
min_participants = 1

[rewards]
reward_pool = 600
stake = 100
initial_tokens = 100
slash_on = ["not selected by"]
slash_amount = 30
"""


def _ledger_kinds(home_path: Path) -> list[str]:
    conn = sqlite3.connect(home_path / "ledger.db")
    try:
        return [row[0] for row in conn.execute("SELECT kind FROM events ORDER BY seq")]
    finally:
        conn.close()


def test_resumed_run_pays_rounds_finalized_before_a_crash(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from ledgerml.incentives import RoundSettler

    assert cli("init", "--unencrypted").code == 0
    (tmp_path / "paid.toml").write_text(REWARDED_TOML)
    original = RoundSettler.settle_round

    class Killed(BaseException):
        """Stands for kill -9: nothing after it runs."""

    def killed_after_last_finalize(self, round_):  # type: ignore[no-untyped-def]
        if round_ == 2:
            raise Killed("killed between RoundFinalized and its payout")
        return original(self, round_)

    monkeypatch.setattr(RoundSettler, "settle_round", killed_after_last_finalize)
    with pytest.raises(Killed):
        cli("fl", "run", str(tmp_path / "paid.toml"), "--unencrypted")
    monkeypatch.setattr(RoundSettler, "settle_round", original)
    kinds = _ledger_kinds(tmp_path / "clihome")
    assert kinds.count("RoundFinalized") == 2 and kinds.count("RewardPaid") == 1 and "TaskSettled" not in kinds
    resumed = cli("fl", "run", str(tmp_path / "paid.toml"), "--unencrypted")
    assert resumed.code == 0, resumed
    kinds = _ledger_kinds(tmp_path / "clihome")
    assert kinds.count("RewardPaid") == 2 and kinds.count("StakeSlashed") == 2 and kinds[-3:].count("TaskSettled") == 1
    assert kinds.index("TaskSettled") > max(i for i, k in enumerate(kinds) if k == "StakeSlashed")
    assert cli("audit", "task", "paid").code == 0


def test_audit_finds_missing_payouts_and_slashes(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from ledgerml.incentives import RoundSettler

    assert cli("init", "--unencrypted").code == 0
    (tmp_path / "paid.toml").write_text(REWARDED_TOML)
    monkeypatch.setattr(RoundSettler, "settle_round", lambda self, round_: None)  # an aggregator that never pays
    result = cli("fl", "run", str(tmp_path / "paid.toml"), "--unencrypted")
    assert result.code == 34 and len(result.err.strip().splitlines()) == 1, result  # fl run runs the rewards audit
    audit = cli("audit", "task", "paid", "--json")
    assert audit.code == 34
    problems = json.loads(audit.out)["problems"]
    assert any("no reward was paid" in p for p in problems), problems
    assert any("slash due 30, recorded 0" in p for p in problems), problems


def test_a_run_whose_rounds_all_fail_is_an_error(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from ledgerml.federated.participant import Participant

    def broken(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise ValueError("could not convert string to float: 'x'")

    monkeypatch.setattr(Participant, "train", broken)
    assert cli("init", "--unencrypted").code == 0
    (tmp_path / "f.toml").write_text('[federation]\ntask_id = "doomed"\nparticipants = 2\nrounds = 2\n')
    result = cli("fl", "run", str(tmp_path / "f.toml"), "--unencrypted")
    assert result.code == 35 and len(result.err.strip().splitlines()) == 1, result
    assert "failed" in result.err and "could not convert" in result.err
    kinds = _ledger_kinds(tmp_path / "clihome")
    assert kinds.count("RoundFinalized") == 2 and "ModelRegistered" not in kinds


def test_two_runs_of_one_task_do_not_overlap(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import textwrap

    assert cli("init", "--unencrypted").code == 0
    root = tmp_path / "clihome"
    (tmp_path / "f.toml").write_text('[federation]\ntask_id = "once"\nparticipants = 2\nrounds = 1\n')
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
                import sys
                from ledgerml.home import Home
                from ledgerml.federated.runner import federation_lock
                with federation_lock(Home({str(root)!r}), "once"):
                    print("locked", flush=True)
                    sys.stdin.read()
            """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        events = _event_count(root)
        second = cli("fl", "run", str(tmp_path / "f.toml"), "--unencrypted")
        assert second.code == 2 and "another process" in second.err and len(second.err.strip().splitlines()) == 1
        assert _event_count(root) == events
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=60)
    assert cli("fl", "run", str(tmp_path / "f.toml"), "--unencrypted").code == 0  # the lock ends with its holder


def test_dp_without_noise_is_refused_at_setup(home: Home) -> None:
    from ledgerml.errors import ConfigError
    from ledgerml.ml.models import build_model

    planned(home, rounds=1)
    ledger = home.open_ledger()
    size = ledger.size
    aggregator = home.identity(load_plan(home, "t1").aggregator)
    model = build_model({"type": "softmax", "n_features": 64, "n_classes": 10})
    for dp in (
        {"clip": 1.0, "noise_multiplier": 0.0, "delta": 1e-5},
        {"clip": 1.0, "noise_multiplier": 1.0, "delta": 0},
    ):
        with pytest.raises(ConfigError, match=r"noise_multiplier|delta"):
            TaskCoordinator.create(ledger, home.store(), aggregator, task_id="nodp", model=model, rounds=3, dp=dp)
    assert ledger.size == size and task(ledger.state(), "nodp") is None
    ledger.close()


def test_non_finite_evaluation_is_left_out_of_the_record(home: Home) -> None:
    planned(home, participants=2, rounds=1)
    people = join_all(home)
    coord = coordinator(home)
    outcome = coord.process_round(
        replies_for(coord, people), evaluate=lambda w: {"val_loss": float("inf"), "val_accuracy": 0.5}
    )
    assert outcome.status == "ok" and outcome.metrics["nonfinite_metrics"] == 1 and "val_loss" not in outcome.metrics
    coord.ledger.close()


def test_receipt_catches_an_update_dropped_before_commitment(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from ledgerml.events import event_from_dict

    assert cli("init", "--unencrypted").code == 0
    home = Home(tmp_path / "clihome")
    planned(home, participants=3, rounds=1, min_participants=1)
    original = TaskCoordinator._accept_commitments

    def drops_node_one(self, round_, replies):  # type: ignore[no-untyped-def]
        victim = next(r for r in replies if r.node == "1")
        self.receipts["1"] = self._receipt_for(event_from_dict(victim.event), round_)  # receipt given ...
        return original(self, round_, [r for r in replies if r.node != "1"])  # ... update never committed

    monkeypatch.setattr(TaskCoordinator, "_accept_commitments", drops_node_one)
    strategy = run_in_process(home, "t1")
    assert strategy.history[0].status == "ok" and len(strategy.history[0].accepted) == 2
    assert cli("audit", "task", "t1").code == 0  # the ledger alone cannot show the drop
    result = cli("audit", "task", "t1", "--receipts", str(home.path / "receipts"))
    assert result.code == 34 and "holds a receipt" in result.err and len(result.err.strip().splitlines()) == 1


def test_receipts_of_an_honest_run_all_check(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("init", "--unencrypted").code == 0
    home = Home(tmp_path / "clihome")
    planned(home, participants=3, rounds=2)
    run_in_process(home, "t1")
    logs = sorted((home.path / "receipts").rglob("receipts.jsonl"))
    assert len(logs) == 3 and not list((home.path / "receipts").rglob("*.json"))  # one log per participant
    lines = [log.read_bytes().splitlines() for log in logs]
    assert [len(kept) for kept in lines] == [2, 2, 2]  # one line per round, appended
    assert cli("audit", "task", "t1", "--receipts", str(home.path / "receipts")).code == 0
    forged = json.loads(lines[0][0])
    forged["round"] = 2  # a receipt altered by its holder no longer verifies against the aggregator's key
    logs[0].write_bytes(json.dumps(forged).encode() + b"\n" + lines[0][1] + b"\n")
    result = cli("audit", "task", "t1", "--receipts", str(home.path / "receipts"))
    assert result.code == 34 and "not by the task's aggregator" in result.err
    assert f"{logs[0].relative_to(home.path / 'receipts').as_posix()} line 1:" in result.err  # which participant's


def test_receipt_logs_torn_lines_and_older_receipt_files(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A log whose last line a crash cut short: the next receipt still lands whole on a line of its own, and
    the audit names the torn line (not a silent skip); a too-long line is named too, unkept; receipts kept as
    ``round-R-<commitment>.json`` files by earlier versions are still read and checked; an unreadable receipt in
    another task's folder is not this task's problem."""
    from ledgerml.federated.receipts import audit_receipts, save_receipt

    assert cli("init", "--unencrypted").code == 0
    home = Home(tmp_path / "clihome")
    planned(home, participants=2, rounds=2)
    run_in_process(home, "t1")
    log = sorted((home.path / "receipts").rglob("receipts.jsonl"))[0]
    first, second = (json.loads(line) for line in log.read_bytes().splitlines())
    log.write_bytes(json.dumps(first, sort_keys=True).encode() + b"\n" + b'{"v": 1, "led')  # torn by a crash
    save_receipt(log.parent.parent, second)
    kept = log.read_bytes().splitlines()
    assert len(kept) == 3 and kept[1] == b'{"v": 1, "led' and json.loads(kept[2]) == second
    with home.open_ledger() as ledger:
        problems = audit_receipts(ledger, "t1", home.path / "receipts")
        named = log.relative_to(home.path / "receipts").as_posix()
        assert len(problems) == 1 and problems[0].startswith(f"{named} line 2: unreadable receipt: the receipt is")
        with log.open("ab") as handle:
            handle.write(b"x" * (70 * 1024) + b"\n")
        problems = audit_receipts(ledger, "t1", home.path / "receipts")
        assert len(problems) == 2 and "line 4: unreadable receipt: the line is longer than 65,536 bytes" in problems[1]
        older = tmp_path / "older" / "t1"
        older.mkdir(parents=True)
        for receipt in (first, second):
            name = f"round-{receipt['round']}-{receipt['commitment'].removeprefix('sha256:')}.json"
            (older / name).write_text(json.dumps(receipt, sort_keys=True))
        assert audit_receipts(ledger, "t1", tmp_path / "older") == []
        altered = dict(second, round=1)
        (older / "round-1-altered.json").write_text(json.dumps(altered))
        problems = audit_receipts(ledger, "t1", tmp_path / "older")
        assert len(problems) == 1 and problems[0].startswith("t1/round-1-altered.json: ")
        (older / "round-1-altered.json").unlink()
        surrogate = json.dumps(dict(second, participant="\ud800"))  # not encodable: one problem, no traceback
        (older / "round-2-surrogate.json").write_text(surrogate)
        problems = audit_receipts(ledger, "t1", tmp_path / "older")
        assert problems == [
            "t1/round-2-surrogate.json: unreadable receipt: "
            "the receipt has a field that is not ASCII (ids, addresses and signatures are)"
        ]
        (older / "round-2-surrogate.json").unlink()
    planned(home, task_id="t2", participants=2, rounds=1)  # a second task of the same ledger
    with home.open_ledger() as ledger:
        other = tmp_path / "older" / "t2" / "archive"  # another task's damaged receipts: that task's problem
        other.mkdir(parents=True)
        (other.parent / "receipts.jsonl").write_bytes(b'{"v": 1, "led')
        (other / "round-1-torn.json").write_bytes(b'{"v": 1')
        assert audit_receipts(ledger, "t1", tmp_path / "older") == []
        assert len(audit_receipts(ledger, "t2", tmp_path / "older")) == 2
        for where in ("round-1-torn.json", "backup/round-1-torn.json", "t1/archive/round-1-torn.json"):
            (tmp_path / "older" / where).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / "older" / where).write_bytes(b'{"v": 1')  # no task's folder, or t1's: t1's audit names it
        named = [problem.split(":")[0] for problem in audit_receipts(ledger, "t1", tmp_path / "older")]
        assert named == ["backup/round-1-torn.json", "round-1-torn.json", "t1/archive/round-1-torn.json"]


def test_receipt_logs_that_are_not_regular_files_are_one_problem_each(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A FIFO (never opened for reading: no hang), a folder or a device named receipts.jsonl is one problem
    naming it; the other participants' logs are still checked."""
    import os

    from ledgerml.federated.receipts import audit_receipts

    assert cli("init", "--unencrypted").code == 0
    home = Home(tmp_path / "clihome")
    planned(home, participants=2, rounds=1)
    run_in_process(home, "t1")
    folder = home.path / "receipts"
    fake = {"fifo": folder / "a" / "t1", "folder": folder / "b" / "t1", "device": folder / "c" / "t1"}
    for where in fake.values():
        where.mkdir(parents=True)
    os.mkfifo(fake["fifo"] / "receipts.jsonl")
    (fake["folder"] / "receipts.jsonl").mkdir()
    (fake["device"] / "receipts.jsonl").symlink_to("/dev/zero")
    with home.open_ledger() as ledger:
        problems = audit_receipts(ledger, "t1", folder)
    assert len(problems) == 3, problems
    for name, problem in zip(("a", "b", "c"), problems, strict=True):
        assert problem.startswith(f"{name}/t1/receipts.jsonl: unreadable receipt: ") and "not a regular file" in problem
    result = cli("audit", "task", "t1", "--receipts", str(folder))
    assert result.code == 34 and len(result.err.strip().splitlines()) == 1


def test_plan_is_typed_and_keeps_its_file_format(home: Home) -> None:
    """The plan on disk is exactly FederationPlan.to_dict(); a damaged plan is one ConfigError."""
    from ledgerml._json import loads_bounded
    from ledgerml.errors import ConfigError
    from ledgerml.federated.plan import FederationPlan, plan_path

    config = planned(home)
    plan = load_plan(home, "t1")
    assert isinstance(plan, FederationPlan) and plan.config == config and len(plan.participants) == 4
    path = plan_path(home, "t1")
    on_disk = loads_bounded(path.read_bytes())
    assert set(on_disk) == {"config", "aggregator", "validation", "n_classes", "participants"}
    assert on_disk == plan.to_dict() and FederationPlan.from_dict(on_disk, "x") == plan
    on_disk["participants"][0]["seed"] = "zero"
    path.write_text(json.dumps(on_disk))
    with pytest.raises(ConfigError, match="'seed' must be of type int"):
        load_plan(home, "t1")


def test_run_federation_returns_a_typed_result(home: Home) -> None:
    """The library workflow behind 'ledgerml fl run': setup, rounds, model, audits, one result."""
    from ledgerml.federated import FederationResult, run_federation

    config = FederationConfig(task_id="wf", participants=3, rounds=2, epochs=1)
    seen: list[int] = []
    result = run_federation(home, config, unencrypted=True, on_round=lambda outcome: seen.append(outcome.round))
    assert isinstance(result, FederationResult) and seen == [1, 2]
    assert result.audit.ok and len(result.rounds) == 2 and result.attestation.is_file()
    assert result.to_dict()["task"] == "wf" and result.to_dict()["audit_ok"] is True


def test_a_binary_or_huge_config_file_is_one_line(tmp_path: Path) -> None:
    """Found by the command-tree fuzzer: ``fl setup BINARY`` printed an internal error (UnicodeDecodeError)."""
    from ledgerml.errors import ConfigError
    from ledgerml.federated.config import MAX_CONFIG_BYTES, FederationConfig

    binary = tmp_path / "binary.toml"
    binary.write_bytes(bytes(range(128, 256)))
    with pytest.raises(ConfigError, match="not UTF-8"):
        FederationConfig.from_toml(binary)
    huge = tmp_path / "huge.toml"
    huge.write_bytes(b"#" * (MAX_CONFIG_BYTES + 1))
    with pytest.raises(
        ConfigError, match=f"is {MAX_CONFIG_BYTES + 1:,} bytes; at most {MAX_CONFIG_BYTES:,} are accepted"
    ):
        FederationConfig.from_toml(huge)
