"""Flower's engines: a quickstart-style app plus ``ledger_mod`` on the simulation engine (Ray, the suite's one
Ray test), and ledgerml's own ServerApp/ClientApp on the deployment engine (SuperLink + SuperNodes as separate
processes on localhost). Slow: about 15 s and 25 s."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ledgerml.federated.audit import audit_task
from ledgerml.federated.runner import FederationConfig, round_history, setup_federation
from ledgerml.home import Home
from ledgerml.types import Role
from ledgerml.vocab.core import RoleGranted

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
    why = [(r["round"], r["invalid"], r["rejected"]) for r in history]  # the recorded reasons, when a round fails
    assert [(r["round"], r["status"], len(r["accepted"])) for r in history] == [(1, "ok", 2), (2, "ok", 2)], why
    ledger = home.open_ledger()
    try:
        assert audit_task(ledger, home.store(), task_id).ok and ledger.verify().ok
    finally:
        ledger.close()


@pytest.mark.slow
def test_quickstart_app_with_the_mod_on_the_simulation_engine(tmp_path: Path) -> None:
    """The one Ray test: examples/flower-quickstart (a quickstart-numpy-style ClientApp plus ``ledger_mod``,
    and a ServerApp wrapping Flower's FedAvg) on Flower's simulation engine, whose virtual SuperNodes have
    random node ids; every round accepts both updates and the audit passes. The example's own
    ``run_simulation.py`` runs in a fresh Python process, as ``run.sh`` runs it, so neither the Ray driver nor
    its workers (whose ``PYTHONPATH`` Flower builds from the driver's ``sys.path``) inherit state from the tests
    that ran before in this pytest worker."""
    from flwr.app import ArrayRecord

    from ledgerml.federated import create_flower_task

    from .quickstart import EXAMPLE
    from .test_flower_mod import _register

    # isort: split
    from quickstart_ledger.server_app import strategy
    from quickstart_ledger.task import get_model

    home = Home(tmp_path / "home")
    home.init(unencrypted=True)
    agg = home.keys.create("agg", None, unencrypted=True)
    with home.open_ledger() as ledger:
        ledger.submit(home.identity(home.config().admin), RoleGranted(subject=agg.address, role=Role.AGGREGATOR))
    for partition in (0, 1):
        _register(home, f"org{partition}", partition, tmp_path)
    create_flower_task(home, "sim", initial=ArrayRecord(get_model()), strategy=strategy(), rounds=2, aggregator="agg")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("LEDGERML_", "QUICKSTART_", "RAY_ADDRESS"))},
        "LEDGERML_HOME": str(home.path),
        "QUICKSTART_TASK": "sim",
        "QUICKSTART_KEYS": str(home.keys.folder),
        "QUICKSTART_RECEIPTS": str(tmp_path / "receipts"),
        "PYTHONPATH": str(EXAMPLE),  # Ray's workers import the app from there
    }
    ran = subprocess.run(
        [sys.executable, "run_simulation.py"], cwd=EXAMPLE, env=env, capture_output=True, text=True, timeout=600
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    _assert_recorded(home, "sim")
    assert sum(len(log.read_bytes().splitlines()) for log in (tmp_path / "receipts").rglob("receipts.jsonl")) == 4


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
