"""The federation workflow the CLI and the service call: set up, train in a run mode, register the model,
audit every round and payout; and the combined audit of a task."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .._html import ReportMeta
from ..errors import ConfigError, LedgerMLError
from ..home import Home
from ..incentives import RoundSettler, audit_rewards, load_validation
from ..incentives.rewards import Scorer, Validation
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
            "dp_epsilon": [r["metrics"].get("dp_epsilon") for r in self.rounds],
        }


def run_federation(
    home: Home,
    config: FederationConfig,
    *,
    mode: str = "local",
    unencrypted: bool = False,
    on_round: Callable[[RoundOutcome], None] | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> FederationResult:
    """Set up (identities, roles, registered partitions, task), train the remaining rounds, register the model,
    audit every round and payout. Refused while another process runs the same task; ``FederationFailed`` if
    every round it ran failed. A failed audit is reported in the result, not raised. ``on_stage(name)`` is
    called as setup, training and the audit begin; ``on_round`` after each round (local mode)."""
    check_mode(mode)
    stage = on_stage or (lambda name: None)
    validate_federation(home, config)
    with federation_lock(home, config.task_id):
        check_same_task(home, config)
        stage("setting up: keys, roles, data partitions, task")
        setup_federation(home, config, unencrypted=unencrypted)
        first_round = len(round_history(home, config.task_id)) + 1
        stage("training")
        _train(home, config.task_id, mode, on_round)
        require_success(home, config.task_id, first_round)
        stage("registering the model and auditing every round")
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
    home: Home,
    task_id: str,
    validation: Path | None = None,
    receipts: Path | None = None,
    utility: Scorer | None = None,
) -> TaskAudit:
    """The round audit of ``task_id`` and, for tasks with rewards or slashing, the rewards audit (every
    contribution, payout, slash and the settlement recomputed, by the validation set or, for a task of an app's
    own model, by the server-side ``utility`` it was served with); with ``receipts``, every participant receipt
    found there is checked against the rounds (a dropped update); one report."""
    with home.open_ledger(as_validator=False) as ledger:
        report = audit_task(ledger, home.store(), task_id)
        record = task_record(ledger.state(), task_id)
        if record is not None and RoundSettler.wanted(record):
            checked: Validation
            if utility is not None:
                checked = utility
            else:
                checked = load_validation(validation or _plan_validation(home, task_id), record)
            report.problems += [f"rewards: {p}" for p in audit_rewards(ledger, home.store(), task_id, checked)]
        if receipts is not None:
            report.problems += [f"receipts: {p}" for p in audit_receipts(ledger, task_id, receipts)]
    return report


def _plan_validation(home: Home, task_id: str) -> Path:
    """The validation set the federation plan names; without a plan, say what to pass instead."""
    try:
        return Path(load_plan(home, task_id).validation)
    except ConfigError as exc:
        raise ConfigError(
            f"{exc}; to recompute its contributions pass --validation FILE, or --utility MODULE:FUNCTION for a "
            "task of a Flower app's own model"
        ) from exc


def first_problem(report: TaskAudit) -> str:
    """The first problem of a report, for a one-line error."""
    found: str = next((p for r in report.rounds for p in r.problems), None) or report.problems[0]
    return found


def _names_by_address(home: Home, names: list[str]) -> dict[str, str]:
    """Identity name of each address, for the names the home holds keys of."""
    found = {}
    for name in names:
        try:
            found[str(home.keys.info(name).address)] = name
        except LedgerMLError:
            continue
    return found


def _meta(home: Home, command: str, settings: dict[str, Any]) -> ReportMeta:
    with home.open_ledger(as_validator=False) as ledger:
        return ReportMeta(command=command, ledger_id=ledger.ledger_id, settings=settings)


def write_run_report(home: Home, config: FederationConfig, result: FederationResult, path: Path, command: str) -> Path:
    """The HTML report of a finished ``run_federation``: header (date, version, ledger id, settings), rounds with
    DP epsilon, accuracy and participation charts, the audit of every round."""
    from .report import write_federation_report

    names = _names_by_address(home, [config.aggregator, *config.participant_names()])
    checks = [
        [f"round {r.round}", "PASS" if r.ok else "FAIL", "replays exactly" if r.ok else "; ".join(r.problems)]
        for r in result.audit.rounds
    ] + [["task", "FAIL", p] for p in result.audit.problems]
    checks.append(["model", "registered", f"{result.model_id}; attestation {result.attestation.name}"])
    return write_federation_report(
        path,
        task_id=config.task_id,
        rounds=result.rounds,
        names=names,
        checks=checks,
        meta=_meta(home, command, asdict(config)),
    )


def write_task_audit_report(home: Home, audit: TaskAudit, path: Path, command: str) -> Path:
    """The HTML report of ``audit_federation``: header, verdict, each round's replay, every problem."""
    from .report import write_audit_report

    settings: dict[str, Any] = {"task_id": audit.task_id}
    return write_audit_report(path, audit, _meta(home, command, settings))
