"""The demo scenario: five hospitals train one model together while one of them poisons its updates; robust
aggregation keeps the model good, a FedAvg baseline shows what the attack would have done, and an auditor
checks the ledger, every round, the final model and the payouts. Writes an HTML report.

Handwritten digits stand in for the hospitals' records (the attack's effect is plain on them); the same story on
real clinical data is ``ledgerml scenario run healthcare``."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._files import check_writable
from .._html import ReportMeta
from ..errors import AlreadyExists, StorageError
from ..federated.apps import run_in_process
from ..federated.audit import audit_task
from ..federated.config import FederationConfig
from ..federated.coordinator import RoundOutcome
from ..federated.plan import load_plan
from ..federated.report import write_report
from ..federated.runner import register_final_model, round_history, setup_federation
from ..home import Home
from ..incentives import audit_rewards, load_validation
from ..ledger.base import LedgerBackend
from ..provenance import verify_model
from ..state import State
from ..types import Role
from ..vocab.core import RoleGranted
from ..vocab.rewards import payouts
from ..vocab.tasks import participants, task
from ..vocab.tokens import balance

HOSPITALS = ["st-mary", "north-general", "riverside", "lakeview", "hillcrest"]
ATTACKER = 2  # riverside
LABELS = {
    "clean": "FedAvg, no attacker (reference)",
    "attacked": "FedAvg under attack (baseline)",
    "robust": "Multi-Krum under attack (robust)",
}
"""The three runs of the demo and how the report names them."""

RoundCallback = Callable[[RoundOutcome], None]
NodeStarter = Callable[[Path], AbstractContextManager[str]]
"""Starts an EVM node for a home folder and yields its RPC URL; the node stops when the context ends."""


@dataclass(frozen=True)
class AuditCheck:
    """One check the demo's auditor made."""

    name: str
    result: str  # PASS or FAIL
    detail: str

    @property
    def ok(self) -> bool:
        """Whether the check passed."""
        return self.result == "PASS"


@dataclass(frozen=True)
class Payout:
    """A participant's outcome in the rewarded run: summed contribution (micro-accuracy), reward, slashed, balance."""

    contribution: int
    reward: int
    slashed: int
    balance: int


@dataclass
class DemoResult:
    """Everything the demo produced: the three runs, the auditor's checks, the payouts and where things are."""

    home: Path
    kept: bool
    report: Path
    rounds: int
    histories: dict[str, list[dict[str, Any]]]
    model_id: str
    attestation: Path
    checks: list[AuditCheck]
    payouts: dict[str, Payout]
    names: dict[str, str]
    kinds: Counter[str]
    summary: list[list[Any]]
    ledger_id: str = ""
    attack: str = ""

    @property
    def ok(self) -> bool:
        """Whether every audit check passed."""
        return all(c.ok for c in self.checks)

    @property
    def final_accuracy(self) -> dict[str, float]:
        """Final validation accuracy of each run."""
        return {key: h[-1]["metrics"]["val_accuracy"] for key, h in self.histories.items()}

    @property
    def attacker_rejected_rounds(self) -> int:
        """Rounds of the robust run in which the attacker's update was rejected."""
        attacker = next(a for a, n in self.names.items() if n == HOSPITALS[ATTACKER])
        return sum(attacker in r["rejected"] for r in self.histories["robust"])

    @property
    def events(self) -> int:
        """Events on the ledger at the end."""
        return sum(self.kinds.values())

    def to_dict(self, seconds: float) -> dict[str, Any]:
        """The result as ``ledgerml demo --json`` prints it."""
        return {
            "payouts": {a: vars(p) for a, p in self.payouts.items()},
            "final_accuracy": self.final_accuracy,
            "attacker_rejected_rounds": self.attacker_rejected_rounds,
            "rounds": self.rounds,
            "checks": [{"check": c.name, "result": c.result, "detail": c.detail} for c in self.checks],
            "events": self.events,
            "report": str(self.report),
            "model_id": self.model_id,
            "seconds": round(seconds, 2),
            "home": str(self.home) if self.kept else None,
        }


def check_creatable(folder: Path) -> None:
    """``StorageError`` unless ``folder`` exists or can be made: its nearest existing ancestor is a folder in which
    a probe folder is really made (and removed at once); ``os.access`` alone says yes to root under /proc."""
    ancestor = folder.absolute()
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise StorageError(f"--home {folder}: {ancestor} is a file, so the folder cannot be made")
    if not os.access(ancestor, os.W_OK):
        raise StorageError(f"--home {folder}: the folder {ancestor} is not writable")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".ledgerml-probe-", dir=ancestor))
    except OSError as exc:
        reason = exc.strerror or exc
        raise StorageError(f"--home {folder}: the folder cannot be made in {ancestor} ({reason})") from None


def report_path(report: Path | None, home: Path | None) -> Path:
    """Where the report goes: ``report``, else HOME/report.html for a kept home, else ./ledgerml-demo-report.html."""
    return report or (home / "report.html" if home is not None else Path("ledgerml-demo-report.html"))


def check_demo_options(rounds: int, attack: str, report: Path | None, home: Path | None) -> None:
    """Every demo option checked before anything is printed, written or started: ``ConfigError`` for rounds or an
    attack the plans refuse, ``AlreadyExists``/``StorageError`` for a home that holds a ledger already or is not
    a folder, ``StorageError`` for a report that cannot be written."""
    demo_plans(rounds, attack)
    if home is not None:
        new_demo_home(home)  # AlreadyExists if it holds a ledger home (nothing made for a given folder)
        if home.exists() and not home.is_dir():
            raise StorageError(f"--home {home} is a file; name a folder for the demo's ledger home")
        check_creatable(home)
    check_writable(report_path(report, home), "--report", made_first=home)


def new_demo_home(home: Path | None) -> Home:
    """The demo's ledger home: ``home`` or a fresh temporary folder; ``AlreadyExists`` if it holds one already."""
    target = Home(Path(home) if home is not None else Path(tempfile.mkdtemp(prefix="ledgerml-demo-")))
    if target.exists():
        raise AlreadyExists(f"{target.path} holds a ledger home already; the demo needs a fresh folder")
    return target


def demo_plans(rounds: int, attack: str) -> dict[str, FederationConfig]:
    """The three federations: clean FedAvg, FedAvg under attack, rewarded Multi-Krum under attack."""
    common: dict[str, Any] = {
        "dataset": "digits",
        "participants": 5,
        "names": HOSPITALS,
        "partition": "dirichlet",
        "alpha": 1.0,
        "rounds": rounds,
        "epochs": 2,
        "lr": 0.5,
        "min_participants": 2,
    }
    return {
        "clean": FederationConfig(task_id="clean-fedavg", rule="fedavg", **common),
        "attacked": FederationConfig(
            task_id="attacked-fedavg", rule="fedavg", attack=attack, attackers=[ATTACKER], **common
        ),
        "robust": FederationConfig(
            task_id="attacked-multikrum",
            rule="multi_krum",
            rule_params={"f": 1},
            attack=attack,
            attackers=[ATTACKER],
            reward_pool=1000 * rounds,
            stake=100,
            initial_tokens=100,
            slash_on=["not selected by", "update norm", "non-finite"],
            slash_amount=25,
            **common,
        ),
    }


def run_demo(
    target: Home,
    *,
    keep: bool,
    rounds: int = 15,
    attack: str = "sign_flip",
    report: Path | None = None,
    node: NodeStarter | None = None,
    say: Callable[[str], None] = lambda line: None,
    on_run: Callable[[str], RoundCallback] | None = None,
) -> DemoResult:
    """Run the whole demo in ``target`` (from :func:`new_demo_home`); on an EVM node from ``node`` if given.

    ``say`` gets the opening line, ``on_run`` a run's label and returns its per-round callback. The home is
    removed at the end unless ``keep``; the report goes to ``report`` [default: HOME/report.html when kept,
    else ./ledgerml-demo-report.html]."""
    report_to = report_path(report, target.path if keep else None)
    started = time.perf_counter()
    try:
        plans = demo_plans(rounds, attack)  # settings refused before the home or a node exists
        check_writable(report_to, "--report", made_first=target.path)
        with node(target.path) if node is not None else contextlib.nullcontext(None) as evm_rpc:
            _init_home(target, evm_rpc)
            say(
                f"[bold]ledgerml demo[/]: 5 hospitals (handwritten digits stand in for their records; real clinical "
                f"data: 'ledgerml scenario run healthcare'), hospital '{HOSPITALS[ATTACKER]}' attacks ({attack}); "
                f"home {target.path}"
            )
            histories = _run_federations(target, plans, on_run)
            model_id, attestation = register_final_model(target, plans["robust"].task_id)
            result = _audit(target, plans, histories, model_id, attestation)
            result.report, result.rounds, result.kept, result.attack = report_to, rounds, keep, attack
            result.summary = _summary(result, time.perf_counter() - started)
            _write_report(result)
    finally:
        if not keep:
            shutil.rmtree(target.path, ignore_errors=True)
    return result


def _init_home(target: Home, evm_rpc: str | None) -> None:
    """Create the consortium's ledger (admin and validator) and an auditor."""
    _, admin = target.init(
        admin_name="admin",
        unencrypted=True,
        ledger_name="hospital-consortium",
        evm_rpc=evm_rpc,
        dev_funding=evm_rpc is not None,
    )
    auditor = target.keys.create("auditor", None, unencrypted=True)
    with target.open_ledger() as ledger:
        ledger.submit(admin, RoleGranted(subject=auditor.address, role=Role.AUDITOR))


def _run_federations(
    target: Home, plans: dict[str, FederationConfig], on_run: Callable[[str], RoundCallback] | None
) -> dict[str, list[dict[str, Any]]]:
    """Set up and run every federation in this process; each one's round history."""
    histories: dict[str, list[dict[str, Any]]] = {}
    for key, plan in plans.items():
        setup_federation(target, plan, unencrypted=True)
        run_in_process(target, plan.task_id, on_round=on_run(LABELS[key]) if on_run else None)
        histories[key] = round_history(target, plan.task_id)
    return histories


def _audit(
    target: Home,
    plans: dict[str, FederationConfig],
    histories: dict[str, list[dict[str, Any]]],
    model_id: str,
    attestation: Path,
) -> DemoResult:
    """The auditor's checks (ledger, every task's rounds, the final model, the payouts) and the outcome."""
    robust = plans["robust"].task_id
    with target.open_ledger(as_validator=False) as ledger:
        checks = [ledger_check(ledger)]
        checks += [rounds_check(ledger, target, plan.task_id) for plan in plans.values()]
        checks += model_checks(ledger, target, robust, attestation, "model")
        checks.append(rewards_check(ledger, target, robust))
        payouts = _payouts(ledger.state(), robust)
        kinds = Counter(stored.event.kind for stored in ledger.events())
        ledger_id = ledger.ledger_id
    names = {str(target.keys.info(n).address): n for n in HOSPITALS}
    return DemoResult(
        target.path, False, Path(), 0, histories, model_id, attestation, checks, payouts, names, kinds, [], ledger_id
    )


def ledger_check(ledger: LedgerBackend) -> AuditCheck:
    """The whole ledger verified from genesis."""
    verified = ledger.verify()
    detail = f"{verified.events_checked} events, {verified.blocks_checked} blocks"
    return AuditCheck("ledger", "PASS" if verified.ok else "FAIL", detail)


def model_checks(ledger: LedgerBackend, target: Home, task_id: str, attestation: Path, label: str) -> list[AuditCheck]:
    """``verify model`` on ``task_id``'s final model and its attestation, one check per line, named ``label: ...``."""
    model_path = target.path / "federations" / task_id / "final-model.safetensors"
    report = verify_model(ledger, target.store(), model_path, attestation)
    return [AuditCheck(f"{label}: {c.name}", "PASS" if c.ok else "FAIL", c.detail) for c in report.checks]


def rounds_check(ledger: LedgerBackend, target: Home, task_id: str) -> AuditCheck:
    """Replay every round of ``task_id`` from the stored updates."""
    audit = audit_task(ledger, target.store(), task_id)
    return AuditCheck(
        f"rounds of {task_id}",
        "PASS" if audit.ok else "FAIL",
        f"{len(audit.rounds)} rounds replayed from stored updates",
    )


def rewards_check(ledger: LedgerBackend, target: Home, task_id: str) -> AuditCheck:
    """Recompute every contribution, payout and slash of ``task_id``."""
    record = task(ledger.state(), task_id)
    assert record is not None
    validation = load_validation(load_plan(target, task_id).validation, record)
    problems = audit_rewards(ledger, target.store(), task_id, validation)
    return AuditCheck(
        f"rewards of {task_id}",
        "FAIL" if problems else "PASS",
        "; ".join(problems) or "every contribution, payout and slash recomputed",
    )


def _payouts(state: State, task_id: str) -> dict[str, Payout]:
    """Per participant: summed contribution (micro-accuracy), reward, slashed tokens, balance."""
    result: dict[str, Payout] = {}
    for address in participants(state, task_id):
        paid = payouts(state, task_id)
        contribution = sum(dict(record.contributions).get(address, 0) for record in paid.rewards.values())
        reward, slashed = paid.paid_to(address), paid.slashed_from(address)
        result[address] = Payout(contribution, reward, slashed, balance(state, address))
    return result


def _by_name(result: DemoResult) -> list[tuple[str, Payout]]:
    """Payouts ordered by participant name (address where no name is known)."""
    return sorted(result.payouts.items(), key=lambda item: result.names.get(item[0], item[0]))


def _summary(result: DemoResult, seconds: float) -> list[list[Any]]:
    """The summary table's rows."""
    final, names = result.final_accuracy, result.names
    return [
        ["validation accuracy, no attacker", f"{final['clean']:.3f}"],
        ["validation accuracy, FedAvg under attack", f"{final['attacked']:.3f}"],
        ["validation accuracy, Multi-Krum under attack", f"{final['robust']:.3f}"],
        [
            f"rounds in which {HOSPITALS[ATTACKER]}'s update was rejected (robust run)",
            f"{result.attacker_rejected_rounds} of {result.rounds}",
        ],
        *[
            [f"{names.get(a, a)}: reward / slashed / balance", f"{p.reward} / {p.slashed} / {p.balance}"]
            for a, p in _by_name(result)
        ],
        ["events on the ledger", result.events],
        ["all audit checks pass", result.ok],
        ["seconds", f"{seconds:.1f}"],
    ]


def _write_report(result: DemoResult) -> None:
    """The HTML report of the three runs, the checks and the payouts."""
    write_report(
        result.report,
        title="ledgerml demo: federated training among five hospitals",
        runs={LABELS[k]: v for k, v in result.histories.items()},
        names=result.names,
        robust=LABELS["robust"],
        kinds=result.kinds,
        summary=result.summary,
        checks=[[c.name, c.result, c.detail] for c in result.checks],
        payouts=[[result.names.get(a, a), p.contribution, p.reward, p.slashed, p.balance] for a, p in _by_name(result)],
        meta=ReportMeta(
            command="ledgerml demo",
            ledger_id=result.ledger_id,
            settings={"rounds": result.rounds, "attack": result.attack, "tasks": sorted(result.histories)},
        ),
    )
