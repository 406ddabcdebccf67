"""Run a scenario end to end in a fresh ledger home: the consortium's identities and roles, each study's
organisations registering their data, the federated task (rule, attacker, rewards), the final model with
lineage and attestation, the baselines, the domain analytics, the audit and the HTML report."""

from __future__ import annotations

import itertools
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AlreadyExists, StorageError
from ..federated.apps import run_in_process
from ..federated.config import FederationConfig
from ..federated.runner import PartitionedData, register_final_model, round_history, setup_federation, weights_of
from ..home import Home
from ..ml.data import OWN
from ..types import Role
from ..vocab.core import RoleGranted
from ..workflows.demo import AuditCheck, ledger_check, model_checks, rewards_check, rounds_check
from . import baselines
from . import get as get_scenario
from .base import Scenario, Study, StudyData
from .dataroot import data_root
from .results import ScenarioContext, ScenarioResult, StudyResult
from .sealing import auditor_opens, seal_partitions

Stage = Callable[[str, int | None], None]
"""Told each stage's name and, while training, its round count."""


def new_home(home: Path | None, name: str) -> Home:
    """``home`` (it must not hold a ledger home yet) or a fresh temporary folder."""
    if home is None:
        return Home(Path(tempfile.mkdtemp(prefix=f"ledgerml-scenario-{name}-")))
    target = Home(home)
    if target.exists():
        raise AlreadyExists(f"{home} holds a ledger home already; a scenario needs a fresh folder")
    if home.exists() and not home.is_dir():
        raise StorageError(f"--home {home} is a file; name a folder")
    return target


def load_studies(scenario: Scenario, root: Path) -> list[StudyData]:
    """Every study's data, read and split before anything is written."""
    return [study.load(root) for study in scenario.studies]


def run_scenario(
    name: str,
    home: Path | None = None,
    *,
    root: Path | None = None,
    stage: Stage = lambda name, rounds: None,
    on_round: Callable[[Any], None] | None = None,
    report: bool = True,
    settings: dict[str, Any] | None = None,
) -> ScenarioResult:
    """Run scenario ``name`` in ``home`` (fresh; a temporary folder when None) on the data under ``root``
    (default: :func:`data_root`); ``settings`` override every study's federation settings (``{"rounds": 2}``).
    The home, data and settings are checked before the home is created (a bad ``--home`` is reported first,
    whether or not the data is there)."""
    started = time.perf_counter()
    scenario = get_scenario(name)
    given = None if home is None else new_home(home, name)  # checks a given folder, creates nothing
    base = data_root() if root is None else root
    stage("reading data", None)
    data = load_studies(scenario, base)
    federations = [{**study.federation, **(settings or {})} for study in scenario.studies]
    configs = [_config(scenario, s, d, f) for s, d, f in zip(scenario.studies, data, federations, strict=True)]
    target = given or new_home(None, name)
    _init_home(target, scenario)
    studies = []
    for study, study_data, config in zip(scenario.studies, data, configs, strict=True):
        studies.append(_run_study(target, study, study_data, config, stage, on_round))
    result = ScenarioResult(scenario, target.path, studies, [])
    stage("analytics", None)
    if scenario.analytics is not None:
        result.analytics = scenario.analytics(ScenarioContext(target, base, studies))
    stage("audit", None)
    _audit(target, result)
    result.seconds = round(time.perf_counter() - started, 1)
    if report:
        from .report import write_scenario_report

        result.report = write_scenario_report(target.path / "report.html", result)
    return result


def _config(scenario: Scenario, study: Study, data: StudyData, federation: dict[str, Any]) -> FederationConfig:
    """The study's federation settings (checked now, before any write)."""
    return FederationConfig(
        task_id=f"{scenario.name}-{study.key}".replace("_", "-"),
        dataset=OWN,
        participants=len(data.organisations),
        names=[o.name for o in data.organisations],
        **federation,
    )


def _init_home(target: Home, scenario: Scenario) -> None:
    """The consortium's ledger (admin and validator) and an auditor."""
    _, admin = target.init(admin_name="admin", unencrypted=True, ledger_name=f"{scenario.name}-consortium")
    auditor = target.keys.create("auditor", None, unencrypted=True)
    with target.open_ledger() as ledger:
        ledger.submit(admin, RoleGranted(subject=auditor.address, role=Role.AUDITOR))


def partitioned(data: StudyData) -> PartitionedData:
    """The organisations' rows as the federation runner takes them (one shard per organisation)."""
    X_train = np.concatenate([o.X for o in data.organisations])
    y_train = np.concatenate([o.y for o in data.organisations])
    bounds = np.cumsum([0] + [len(o.y) for o in data.organisations])
    shards = [np.arange(a, b) for a, b in itertools.pairwise(bounds)]
    X_all = np.concatenate([X_train, data.X_val, data.X_test])
    return PartitionedData(
        X_all, X_train, y_train, data.X_val, data.y_val, data.n_classes, shards, data.license, data.consent_note
    )


def _run_study(
    target: Home,
    study: Study,
    data: StudyData,
    config: FederationConfig,
    stage: Stage,
    on_round: Callable[[Any], None] | None,
) -> StudyResult:
    """Set up, train, register and measure one study, then train its baselines."""
    stage(f"{study.key}: sealing and registering data", None)
    sealed = seal_partitions(target, config.task_id, data, "auditor", data.license)
    setup_federation(target, config, unencrypted=True, data=partitioned(data))
    stage("training", config.rounds)
    run_in_process(target, config.task_id, on_round=on_round)
    model_id, attestation = register_final_model(target, config.task_id)
    spec = baselines.model_spec(config, data)
    federated = study.measures(data.y_test, baselines.scores(spec, weights_of(target, model_id), data.X_test))
    stage(f"{study.key}: baselines", None)
    organisations = [(o.name, len(o.y), round(float(np.mean(o.y)), 3)) for o in data.organisations]
    return StudyResult(
        study,
        config.task_id,
        federated,
        baselines.centralised(config, data, study.measures),
        baselines.local_only(config, data, study.measures),
        organisations,
        round_history(target, config.task_id),
        model_id,
        attestation,
        sealed,
        baselines.references(config, data, study.measures),
    )


def _audit(target: Home, result: ScenarioResult) -> None:
    """The auditor's checks: the sealed partitions, the ledger, every task's rounds and rewards, every model."""
    opened = []
    for study in result.studies:
        ok, detail = auditor_opens(target, study.task_id, study.sealed, "auditor")
        opened.append(AuditCheck(f"{study.task_id} sealed data", "PASS" if ok else "FAIL", detail))
    with target.open_ledger(as_validator=False) as ledger:
        checks = [ledger_check(ledger)]
        for study in result.studies:
            checks.append(rounds_check(ledger, target, study.task_id))
            checks.append(rewards_check(ledger, target, study.task_id))
            checks += model_checks(ledger, target, study.task_id, study.attestation, f"{study.task_id} model")
        result.ledger_id = ledger.ledger_id
        result.events = sum(1 for _ in ledger.events())
    result.checks = opened + checks
