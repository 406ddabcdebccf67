"""A task's screening policy on the ledger: exclusion changes the aggregate, the auditor replays it, and a
changed score, explanation, stored update or history is caught."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ledgerml.federated.apps import run_in_process
from ledgerml.federated.audit import audit_task
from ledgerml.federated.config import FederationConfig
from ledgerml.federated.coordinator import update_verdict
from ledgerml.federated.runner import round_history, setup_federation
from ledgerml.federated.screening import task_scores
from ledgerml.home import Home
from ledgerml.ml.serialization import from_bytes, to_bytes
from ledgerml.screening import detector
from ledgerml.screening.policy import SCREENING_REASON
from ledgerml.vocab.tasks import commits, task

TASK = "t1"
pytestmark = pytest.mark.slow  # one 2-round federation of 5 (about 5 s), shared by the module


def federation(home: Home, **settings: object) -> FederationConfig:
    config = FederationConfig(
        **{  # type: ignore[arg-type]
            "task_id": TASK,
            "participants": 5,
            "partition": "iid",
            "rounds": 2,
            "min_participants": 1,
            "attack": "sign_flip",
            "attackers": [0],
            "screening": {"action": "exclude"},
            **settings,
        }
    )
    setup_federation(home, config, unencrypted=True)
    run_in_process(home, TASK)
    return config


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = Home(tmp_path_factory.mktemp("screened") / "home")
    home.init(unencrypted=True)
    federation(home)
    return home.path


@pytest.fixture
def home(finished: Path, tmp_path: Path) -> Home:
    shutil.copytree(finished, tmp_path / "home")
    return Home(tmp_path / "home")


def problems(home: Home) -> list[str]:
    return [p for _, p in round_problems(home)]


def round_problems(home: Home) -> list[tuple[int, str]]:
    with home.open_ledger(as_validator=False) as ledger:
        report = audit_task(ledger, home.store(), TASK)
    return [(r.round, p) for r in report.rounds for p in r.problems] + [(0, p) for p in report.problems]


def attacker(home: Home) -> str:
    return str(home.keys.info(f"{TASK}-org00").address)


def test_policy_is_declared_in_the_task_and_exclusion_is_recorded_and_replayed(home: Home) -> None:
    with home.open_ledger(as_validator=False) as ledger:
        record = task(ledger.state(), TASK)
        assert record is not None and record.screening_policy() == {
            "action": "exclude",
            "detector": "separation",
            "threshold": 0.5,
        }
        scores = task_scores(ledger.state(), home.store(), TASK, update_verdict)["scores"]
    for round_ in round_history(home, TASK):
        reason = round_["rejected"][attacker(home)]
        assert reason.startswith(SCREENING_REASON) and attacker(home) not in round_["accepted"]
        digest = reason.rsplit("explanation ", 1)[1].rstrip(")")
        assert home.store().has(digest)
        assert round_["metrics"]["screening_flagged"] >= 1
    decisions = {(r["round"], r["participant"]): r["decision"] for r in scores}
    assert decisions[(1, attacker(home))] == "exclude" and len(scores) == 10
    assert problems(home) == []


def test_exclusion_changes_the_aggregate(tmp_path: Path, finished: Path) -> None:
    flagged = Home(tmp_path / "flag")
    flagged.init(unencrypted=True)
    federation(flagged, rounds=1, screening={"action": "flag"})
    excluded = Home(finished)
    first = {h["round"]: h for h in round_history(excluded, TASK)}[1]
    only = round_history(flagged, TASK)[0]
    assert str(flagged.keys.info(f"{TASK}-org00").address) in only["accepted"]
    assert only["metrics"]["screening_flagged"] >= 1
    assert only["aggregate"] != first["aggregate"]
    assert only["metrics"]["val_accuracy"] < first["metrics"]["val_accuracy"]
    assert problems(flagged) == []


def _overwrite(home: Home, digest: str, data: bytes) -> None:
    path = home.store().path_of(digest)  # type: ignore[attr-defined]
    path.chmod(0o644)
    path.write_bytes(data)


def test_a_changed_explanation_is_caught(home: Home) -> None:
    reason = round_history(home, TASK)[0]["rejected"][attacker(home)]
    digest = reason.rsplit("explanation ", 1)[1].rstrip(")")
    _overwrite(home, digest, b'{"score": 0.1}')
    assert any("explanation" in p and "missing or changed" in p for p in problems(home))


def test_a_changed_stored_update_is_caught(home: Home) -> None:
    with home.open_ledger(as_validator=False) as ledger:
        commit = commits(ledger.state(), TASK, 1)[attacker(home)]  # type: ignore[index]
    weights = from_bytes(home.store().get(commit.update_digest))
    _overwrite(home, commit.update_digest, to_bytes({k: v * 0 for k, v in weights.items()}))
    assert problems(home)


def test_a_changed_score_is_caught(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(detector, "SCALE", detector.SCALE * 1.01)  # the auditor's detector scores differently
    found = problems(home)
    assert any("screening excludes it" in p or "replay scores it below" in p for p in found), found


def test_a_changed_history_is_caught(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(detector, "HISTORY_WEIGHT", 0.0)  # the past no longer counts: round 2 differs
    found = round_problems(home)
    assert found and {r for r, _ in found} == {2}, found  # round 1 has no past; round 2's scores change


def test_an_alert_re_derives_with_the_detector_it_names(home: Home) -> None:
    """An alert raised by another detector version than the task's today (a task without a policy is scored with
    the default of the day) re-derives with its own, and is not raised again by the new one."""
    import ledgerml.federated.screening as screening_module
    import ledgerml.federated.screening_alerts as alerts_module
    from ledgerml.alerts import list_alerts
    from ledgerml.alerts.audit import audit_alert
    from ledgerml.federated.monitor import participant_labels
    from ledgerml.screening.policy import Policy

    labels = participant_labels(home, TASK)
    older = Policy(detector="consensus", action="exclude", active=True)
    with pytest.MonkeyPatch.context() as patch:
        for module in (screening_module, alerts_module):
            patch.setattr(module, "policy_of", lambda record: older)
        raised = alerts_module.raise_task_alerts(home, TASK, home.identity("aggregator"), labels)
    assert raised
    assert alerts_module.raise_task_alerts(home, TASK, home.identity("aggregator"), labels) == []
    with home.open_ledger(as_validator=False) as ledger:
        alerts = list_alerts(ledger.state())
        assert {a.record.detector for a in alerts} == {"federation.consensus/v2"}
        for alert in alerts:
            report = audit_alert(ledger.state(), home.store(), alert.event_id, home=home)
            assert report.ok, report.problems


def test_flags_become_signed_alerts_that_re_derive(home: Home) -> None:
    from ledgerml.alerts import list_alerts
    from ledgerml.alerts.audit import audit_alert
    from ledgerml.errors import Unauthorized
    from ledgerml.federated.monitor import participant_labels
    from ledgerml.federated.screening_alerts import raise_task_alerts

    labels = participant_labels(home, TASK)
    with pytest.raises(Unauthorized):
        raise_task_alerts(home, TASK, home.identity(f"{TASK}-org01"), labels)
    raised = raise_task_alerts(home, TASK, home.identity("aggregator"), labels)
    assert {(r["round"], r["participant"]) for r in raised} >= {(1, f"{TASK}-org00"), (2, f"{TASK}-org00")}
    assert raise_task_alerts(home, TASK, home.identity("aggregator"), labels) == []  # once per flag
    with home.open_ledger(as_validator=False) as ledger:
        alerts = list_alerts(ledger.state())
        assert len(alerts) == len(raised)
        first = alerts[0]
        report = audit_alert(ledger.state(), home.store(), first.event_id, home=home)
        assert report.ok, report.problems
        assert first.record.decision == "exclude" and first.record.subject_type == "participant"
    explanation = home.store().get(first.record.explanation_digest)
    assert b'"history"' in explanation and b'"features"' in explanation
    _overwrite(home, first.record.explanation_digest, explanation.replace(b'"round":', b'"round" :'))
    with home.open_ledger(as_validator=False) as ledger:
        tampered = audit_alert(ledger.state(), home.store(), first.event_id, home=home)
    assert not tampered.ok and any("corrupted" in p for p in tampered.problems), tampered.problems
