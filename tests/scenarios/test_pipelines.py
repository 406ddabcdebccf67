"""Each scenario end to end on tiny generated data in the real layout: organisations, task, rewards, final
model, baselines, analytics, audit and report; and the runner's refusals, which write nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledgerml.errors import AlreadyExists, ConfigError, NotFound
from ledgerml.home import Home
from ledgerml.scenarios.runner import run_scenario

from ._generated import credit_csv, nsl_kdd_txt

QUICK = {"rounds": 2}


def _check_shape(document: dict[str, object], name: str) -> None:
    assert set(document) == {"scenario", "metrics", "baselines", "audit_ok"}
    assert document["scenario"] == name
    baselines = document["baselines"]
    assert isinstance(baselines, dict) and set(baselines) == {"centralised", "local_only"}
    metrics = document["metrics"]
    assert isinstance(metrics, dict) and metrics
    for side in baselines.values():
        assert set(side) == set(metrics)


@pytest.mark.slow
def test_finance_on_generated_files(tmp_path: Path) -> None:
    credit_csv(tmp_path / "data", rows=300)
    result = run_scenario("finance", tmp_path / "home", root=tmp_path / "data", settings=QUICK)
    document = result.to_dict()
    _check_shape(document, "finance")
    assert document["audit_ok"] is True
    assert set(document["metrics"]) == {"auc", "recall_at_precision_0.5", "accuracy"}
    assert "not run" in str(result.analytics)  # no Ethereum accounts file under the generated root
    assert result.report is not None and "bank-highschool" in result.report.read_text()
    with Home(tmp_path / "home").open_ledger(as_validator=False) as ledger:
        kinds = {stored.event.kind for stored in ledger.events()}
    assert {"DatasetRegistered", "TaskCreated", "ModelRegistered", "AccessGranted", "AccessUsed"} <= kinds
    sealed = [c for c in result.checks if c.name == "finance-credit sealed data"]
    assert len(sealed) == 1 and sealed[0].ok and "4 sealed partitions" in sealed[0].detail
    _a_changed_training_file_is_caught(Home(tmp_path / "home"), result.studies[0].sealed)


def _a_changed_training_file_is_caught(home: Home, sealed: list[str]) -> None:
    """The auditor's sealed-data check fails when a participant's training file is not what it sealed."""
    from ledgerml.federated.plan import load_plan
    from ledgerml.scenarios.sealing import auditor_opens

    training = Path(load_plan(home, "finance-credit").participants[1].data)
    training.write_bytes(training.read_bytes().replace(b",1\n", b",0\n", 1))
    ok, detail = auditor_opens(home, "finance-credit", sealed, "auditor")
    assert not ok and "bank-university's sealed partition differs" in detail
    assert auditor_opens(home, "finance-credit", sealed[::-1], "auditor") == (
        False,
        "the federation's datasets are not the sealed partitions",
    )


@pytest.mark.slow
def test_cybersecurity_on_generated_files(tmp_path: Path) -> None:
    nsl_kdd_txt(tmp_path / "data")
    result = run_scenario("cybersecurity", tmp_path / "home", root=tmp_path / "data", settings=QUICK, report=False)
    document = result.to_dict()
    _check_shape(document, "cybersecurity")
    assert document["audit_ok"] is True
    assert result.analytics["security log: verifies"] is True
    rejected = result.analytics["security log: rounds rejecting site-ftp-data's update"]
    signed = result.analytics["security log: alerts signed (AlertRaised)"]
    assert rejected == f"{signed} of 2" and signed >= 1
    assert result.analytics["security log: alerts re-derived from the round records"] == f"{signed} of {signed}"
    _forged_alert_does_not_rederive(Home(tmp_path / "home"), result.studies[0].task_id)


def _forged_alert_does_not_rederive(home: Home, task_id: str) -> None:
    """An explanation naming a participant the round accepted does not re-derive."""
    from ledgerml.alerts import list_alerts, load_explanation
    from ledgerml.alerts.audit import AuditContext
    from ledgerml.errors import TamperDetected
    from ledgerml.scenarios.security_alerts import rederive
    from ledgerml.vocab.tasks import round_record

    with home.open_ledger(as_validator=False) as ledger:
        state = ledger.state()
        stored = load_explanation(home.store(), list_alerts(state)[0].record)
        again = rederive(AuditContext(state, home.store()), stored)
        assert again.explanation == {k: v for k, v in stored.items() if k not in ("format", "detector", "subject")}
        honest = round_record(state, task_id, stored["round"]).accepted[0]  # type: ignore[union-attr]
        with pytest.raises(TamperDetected, match="was not rejected"):
            rederive(AuditContext(state, home.store()), {**stored, "participant": honest})


@pytest.mark.slow
def test_healthcare_runs_two_studies(tmp_path: Path) -> None:
    result = run_scenario("healthcare", tmp_path / "home", root=tmp_path, settings=QUICK, report=False)
    document = result.to_dict()
    _check_shape(document, "healthcare")
    assert document["audit_ok"] is True
    assert {"breast_cancer_auc", "diabetes_auc"} <= set(document["metrics"])
    assert [s.task_id for s in result.studies] == ["healthcare-breast-cancer", "healthcare-diabetes"]


def test_missing_data_writes_no_home(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="LEDGERML_DATA"):
        run_scenario("cybersecurity", tmp_path / "home", root=tmp_path)
    assert not (tmp_path / "home").exists()


def test_bad_settings_write_no_home(tmp_path: Path) -> None:
    nsl_kdd_txt(tmp_path / "data", rows=60)
    with pytest.raises(ConfigError, match="rounds"):
        run_scenario("cybersecurity", tmp_path / "home", root=tmp_path / "data", settings={"rounds": 0})
    assert not (tmp_path / "home").exists()


def test_an_existing_home_is_refused(tmp_path: Path) -> None:
    Home(tmp_path / "home").init(admin_name="admin", unencrypted=True)
    before = sorted(p.name for p in (tmp_path / "home").iterdir())
    with pytest.raises(AlreadyExists, match="fresh folder"):
        run_scenario("healthcare", tmp_path / "home", root=tmp_path)
    assert sorted(p.name for p in (tmp_path / "home").iterdir()) == before


def test_unknown_scenario() -> None:
    with pytest.raises(NotFound, match="known: healthcare, finance, supply-chain, iot, cybersecurity"):
        run_scenario("banking")
