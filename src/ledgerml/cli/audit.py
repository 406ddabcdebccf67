"""``ledgerml audit task TASK_ID``: replay every round from the ledger and the stored updates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import ConfigError, TamperDetected
from ._common import HomeOption, JsonOption, console, emit_json, home_of, table

app = typer.Typer(help="Audit federated tasks by replaying their rounds.", no_args_is_help=True)


class AuditFailed(TamperDetected):
    """A round does not replay as recorded."""

    exit_code = 34


def run_audits(target: Any, task_id: str, validation: Path | None = None, receipts: Path | None = None) -> Any:
    """The round audit of ``task_id`` and, for tasks with rewards or slashing, the rewards audit (every
    contribution, payout, slash and the settlement recomputed); with ``receipts``, every participant receipt
    found there is checked against the rounds (a dropped update); one report."""
    from ..federated.audit import audit_task
    from ..incentives import RoundSettler, audit_rewards, load_validation
    from ..tasks import task as task_record

    ledger = target.open_ledger(as_validator=False)
    try:
        report = audit_task(ledger, target.store(), task_id)
        record = task_record(ledger.state(), task_id)
        if record is not None and RoundSettler.wanted(record):
            if validation is None:
                from ..federated.runner import load_plan

                validation = Path(load_plan(target, task_id)["validation"])
            checked = load_validation(validation, record)
            report.problems += [f"rewards: {p}" for p in audit_rewards(ledger, target.store(), task_id, checked)]
        if receipts is not None:
            from ..federated.receipts import audit_receipts

            report.problems += [f"receipts: {p}" for p in audit_receipts(ledger, task_id, receipts)]
    finally:
        ledger.close()
    return report


def first_problem(report: Any) -> str:
    """The first problem of a report, for a one-line error."""
    found: str = next((p for r in report.rounds for p in r.problems), None) or report.problems[0]
    return found


@app.command("task")
def task(
    task_id: Annotated[str, typer.Argument(help="Task id (see 'ledgerml fl tasks').")],
    validation: Annotated[
        Path | None,
        typer.Option(help="The task's validation set, to recompute contributions [default: the federation plan's]."),
    ] = None,
    receipts: Annotated[
        Path | None,
        typer.Option(help="A folder of participants' receipts: flag any commitment a round does not list."),
    ] = None,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Check every commitment's signature, re-run every validation and the recorded rule, compare aggregates;
    for tasks with rewards, also recompute every contribution, payout and slash, and look for missing ones."""
    target = home_of(home)
    if receipts is not None and not receipts.is_dir():
        raise ConfigError(f"--receipts {receipts} is not a folder")
    report = run_audits(target, task_id, validation, receipts)
    if json_out:
        emit_json(report.to_dict())
    else:
        table(
            f"audit of task {task_id}",
            ["round", "status", "committed", "accepted", "rejected", "replay"],
            [
                [
                    r.round,
                    r.status,
                    r.committed,
                    r.accepted,
                    r.rejected,
                    "matches" if r.ok else "MISMATCH: " + "; ".join(r.problems),
                ]
                for r in report.rounds
            ],
        )
        for problem in report.problems:
            console.print(f"[red]problem[/]: {problem}")
    if not report.ok:
        raise AuditFailed(f"task {task_id} does not replay as recorded: {first_problem(report)}")
