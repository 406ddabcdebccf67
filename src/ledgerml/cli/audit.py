"""``ledgerml audit task TASK_ID``: replay every round from the ledger and the stored updates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import ConfigError, TamperDetected
from ._common import HomeOption, JsonOption, check_out, console, emit_json, home_of, table

app = typer.Typer(help="Audit federated tasks by replaying their rounds.", no_args_is_help=True)


class AuditFailed(TamperDetected):
    """A round does not replay as recorded."""

    exit_code = 34


@app.command("task")
def task(
    task_id: Annotated[str, typer.Argument(help="Task id (see 'ledgerml fl tasks').")],
    validation: Annotated[
        Path | None,
        typer.Option(help="The task's validation set, to recompute contributions \\[default: the federation plan's]."),
    ] = None,
    receipts: Annotated[
        Path | None,
        typer.Option(help="A folder of participants' receipts: flag any commitment a round does not list."),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Also write an HTML report (date, version, ledger id, verdict, every round)."),
    ] = None,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Check every commitment's signature, re-run every validation and the recorded rule, compare aggregates;
    for tasks with rewards, also recompute every contribution, payout and slash, and look for missing ones."""
    target = home_of(home)
    if receipts is not None and not receipts.is_dir():
        raise ConfigError(f"--receipts {receipts} is not a folder")
    check_out(report, "--report")
    from ..federated.workflow import audit_federation, first_problem, write_task_audit_report

    audit = audit_federation(target, task_id, validation, receipts)
    if report is not None:
        write_task_audit_report(target, audit, report, f"ledgerml audit task {task_id}")
    if json_out:
        emit_json({**audit.to_dict(), **({"report": str(report)} if report else {})})
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
                for r in audit.rounds
            ],
        )
        for problem in audit.problems:
            console.print(f"[red]problem[/]: {problem}")
        if report is not None:
            console.print(f"report: {report}")
    if not audit.ok:
        raise AuditFailed(f"task {task_id} does not replay as recorded: {first_problem(audit)}")


@app.command("alert")
def alert(
    alert_id: Annotated[str, typer.Argument(help="Alert id (see 'ledgerml alerts list').")],
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Re-derive an alert from the stored data and its registered model or rule; exit 36 when it does not match."""
    from ..alerts.audit import AlertMismatch, audit_alert

    target = home_of(home)
    with target.open_ledger(as_validator=False) as ledger:
        result = audit_alert(ledger.state(), target.store(), alert_id, home=target)
    if json_out:
        emit_json(result.to_dict())
    else:
        for check in result.checks:
            console.print(f"[green]ok[/]: {check}")
        for problem in result.problems:
            console.print(f"[red]problem[/]: {problem}")
    if not result.ok:
        raise AlertMismatch(f"alert {result.alert_id} does not re-derive as recorded: {result.problems[0]}")
