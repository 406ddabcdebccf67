"""The federation workflow the CLI and the service call: set up, train in a run mode, register the model,
audit every round and payout; and the combined audit of a task."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..home import Home
from ..incentives import RoundSettler, audit_rewards, load_validation
from ..vocab.tasks import task as task_record
from .audit import TaskAudit, audit_task
from .config import FederationConfig
from .coordinator import RoundOutcome
from .plan import load_plan
from .receipts import audit_receipts
from .runner import federation_lock, preflight, register_final_model, require_success, round_history, setup_federation

MODES = ("local", "simulation", "deployment")
"""How ``run_federation`` runs the rounds: in this process, on Flower's simulation engine, or its deployment engine."""


@dataclass
class FederationResult:
    """What a finished federation produced: its rounds, the registered model and the audit of both."""

    task_id: str
    rounds: list[dict[str, Any]]
    model_id: str
    attestation: Path
    audit: TaskAudit

    @property
    def accuracy(self) -> list[float]:
        """Validation accuracy after each round (NaN where a round has none)."""
        return [r["metrics"].get("val_accuracy", float("nan")) for r in self.rounds]

    def to_dict(self) -> dict[str, Any]:
        """The result as ``ledgerml fl run --json`` prints it."""
        return {
            "task": self.task_id,
            "rounds": len(self.rounds),
            "model_id": self.model_id,
            "attestation": str(self.attestation),
            "audit_ok": self.audit.ok,
            "val_accuracy": [round(a, 4) for a in self.accuracy],
        }


def run_federation(
    home: Home,
    config: FederationConfig,
    *,
    mode: str = "local",
    unencrypted: bool = False,
    on_round: Callable[[RoundOutcome], None] | None = None,
) -> FederationResult:
    """Set up (identities, roles, registered partitions, task), train the remaining rounds, register the model,
    audit every round and payout. Refused while another process runs the same task; ``FederationFailed`` if
    every round it ran failed. A failed audit is reported in the result, not raised."""
    check_mode(mode)
    validate_federation(home, config)
    with federation_lock(home, config.task_id):
        check_same_task(home, config)
        setup_federation(home, config, unencrypted=unencrypted)
        first_round = len(round_history(home, config.task_id)) + 1
        _train(home, config.task_id, mode, on_round)
        require_success(home, config.task_id, first_round)
        model_id, attestation = register_final_model(home, config.task_id)
        audit = audit_federation(home, config.task_id)
    return FederationResult(config.task_id, round_history(home, config.task_id), model_id, attestation, audit)


def validate_federation(home: Home | None, config: FederationConfig) -> None:
    """Every check a run makes before its first write, writing nothing: the settings and the data partition,
    and, with an existing ``home``, that the task event would be accepted and an existing task has these very
    settings (``ledgerml fl validate``)."""
    if home is None or not home.exists():
        from ..ml import data as data_module

        data_module.load(config.dataset)
        return
    preflight(home, config)
    check_same_task(home, config)


def config_differences(old: FederationConfig, new: FederationConfig) -> list[str]:
    """``key: old -> new`` for every setting that differs."""
    before, after = asdict(old), asdict(new)
    return [f"{key}: {before[key]!r} -> {after[key]!r}" for key in before if before[key] != after[key]]


def check_same_task(home: Home, config: FederationConfig) -> None:
    """An existing task resumes only with the settings it was set up with; ``ConfigError`` naming what differs."""
    from .plan import plan_path

    if not plan_path(home, config.task_id).exists():
        with home.open_ledger(as_validator=False) as ledger:
            record = task_record(ledger.state(), config.task_id)
        if record is not None:
            raise ConfigError(
                f"task {config.task_id!r} exists on this ledger but its plan is not in {home.path}: "
                "give the federation another task_id"
            )
        return
    differences = config_differences(load_plan(home, config.task_id).config, config)
    if differences:
        shown = "; ".join(differences[:4]) + (f"; and {len(differences) - 4} more" if len(differences) > 4 else "")
        raise ConfigError(
            f"task {config.task_id!r} exists with other settings ({shown}): give a new task_id, or the original "
            "settings to resume it"
        )


def check_mode(mode: str) -> None:
    """``ConfigError`` unless ``mode`` is one of :data:`MODES`."""
    if mode not in MODES:
        raise ConfigError("--mode must be local, simulation or deployment")


def _train(home: Home, task_id: str, mode: str, on_round: Callable[[RoundOutcome], None] | None) -> None:
    """Run the task's remaining rounds in ``mode``."""
    if mode == "local":
        from .apps import run_in_process

        run_in_process(home, task_id, on_round=on_round)
    elif mode == "simulation":
        from .apps import run_simulation

        run_simulation(home, task_id)
    else:
        from .deploy import LocalDeployment

        with LocalDeployment(home, task_id) as deployment:
            finished = deployment.run()
        if finished.returncode != 0:
            raise ConfigError(f"flwr run failed: {finished.stderr[-2000:] or finished.stdout[-2000:]}")


def audit_federation(
    home: Home, task_id: str, validation: Path | None = None, receipts: Path | None = None
) -> TaskAudit:
    """The round audit of ``task_id`` and, for tasks with rewards or slashing, the rewards audit (every
    contribution, payout, slash and the settlement recomputed); with ``receipts``, every participant receipt
    found there is checked against the rounds (a dropped update); one report."""
    with home.open_ledger(as_validator=False) as ledger:
        report = audit_task(ledger, home.store(), task_id)
        record = task_record(ledger.state(), task_id)
        if record is not None and RoundSettler.wanted(record):
            if validation is None:
                validation = Path(load_plan(home, task_id).validation)
            checked = load_validation(validation, record)
            report.problems += [f"rewards: {p}" for p in audit_rewards(ledger, home.store(), task_id, checked)]
        if receipts is not None:
            report.problems += [f"receipts: {p}" for p in audit_receipts(ledger, task_id, receipts)]
    return report


def first_problem(report: TaskAudit) -> str:
    """The first problem of a report, for a one-line error."""
    found: str = next((p for r in report.rounds for p in r.problems), None) or report.problems[0]
    return found
