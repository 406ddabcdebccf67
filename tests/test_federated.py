"""Federated learning on the ledger: task rules, the coordinator, the round auditor, the Flower apps."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from ledgerml.errors import DuplicateRegistration, InvalidTransition, Unauthorized
from ledgerml.events import sign_event
from ledgerml.federated.apps import run_in_process
from ledgerml.federated.audit import audit_task
from ledgerml.federated.coordinator import Reply, TaskCoordinator
from ledgerml.federated.runner import FederationConfig, load_participant, load_plan, round_history, setup_federation
from ledgerml.federated.serialization import from_bytes, to_bytes
from ledgerml.home import Home
from ledgerml.tasks import RoundFinalized, UpdateCommitted, commits, progress, task

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
        home.open_ledger(), home.store(), home.identity(load_plan(home, task_id)["aggregator"]), task_id
    )


def join_all(home: Home, task_id: str = "t1") -> list:  # type: ignore[type-arg]
    people = [load_participant(home, task_id, i) for i in range(len(load_plan(home, task_id)["participants"]))]
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
    for bad_round, error in ((2, InvalidTransition), (0, Exception)):
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
        with pytest.raises(error):
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
    data["payload"]["num_examples"] += 1000  # claim more examples than were committed
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
    from ledgerml.tasks import Rejection

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
    "example", sorted((Path(__file__).parent.parent / "examples" / "federations").glob("*.toml")), ids=lambda p: p.stem
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
