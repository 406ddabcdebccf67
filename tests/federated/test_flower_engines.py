"""The same ServerApp/ClientApp on Flower's simulation engine (Ray) and deployment engine (SuperLink +
SuperNodes as separate processes on localhost). Slow: about 10 s and 25 s."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ledgerml.federated.audit import audit_task
from ledgerml.federated.runner import FederationConfig, round_history, setup_federation
from ledgerml.home import Home

os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
os.environ.setdefault("FLWR_DISABLE_UPDATE_CHECK", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def _planned(tmp_path: Path, task_id: str) -> Home:
    home = Home(tmp_path / "home")
    home.init(unencrypted=True)
    setup_federation(home, FederationConfig(task_id=task_id, participants=2, rounds=2), unencrypted=True)
    return home


def _assert_recorded(home: Home, task_id: str) -> None:
    history = round_history(home, task_id)
    assert [(r["round"], r["status"], len(r["accepted"])) for r in history] == [(1, "ok", 2), (2, "ok", 2)]
    ledger = home.open_ledger()
    try:
        assert audit_task(ledger, home.store(), task_id).ok and ledger.verify().ok
    finally:
        ledger.close()


@pytest.mark.slow
def test_flower_simulation_engine(tmp_path: Path) -> None:
    from ledgerml.federated.apps import run_simulation

    home = _planned(tmp_path, "sim")
    run_simulation(home, "sim")
    _assert_recorded(home, "sim")


@pytest.mark.slow
def test_flower_deployment_engine_on_localhost(tmp_path: Path) -> None:
    from ledgerml.federated.deploy import LocalDeployment

    home = _planned(tmp_path, "deployed")
    deployment = LocalDeployment(home, "deployed", workdir=tmp_path / "flower")
    with deployment:
        result = deployment.run(timeout=600)
        assert result.returncode == 0, result.stdout + result.stderr
    assert all(p.poll() is not None for p in deployment.processes)  # every process stopped
    _assert_recorded(home, "deployed")
