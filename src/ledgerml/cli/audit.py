"""``ledgerml audit task TASK_ID``: replay every round from the ledger and the stored updates."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import ConfigError, TamperDetected
from ._common import AsOption, HomeOption, JsonOption, check_out, console, emit_json, home_of, table

if TYPE_CHECKING:
    from ..federated.audit import TaskAudit

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
    utility: Annotated[
        str | None,
        typer.Option(
            help="For a task of a Flower app's own model with rewards: the server-side score it was served with, "
            "as MODULE:FUNCTION or FILE.py:FUNCTION (arrays -> a number), to recompute contributions."
        ),
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
    if utility is not None and validation is not None:
        raise ConfigError("give --validation or --utility, not both")
    from .._imports import load_callable
    from ..federated.workflow import audit_federation, first_problem, write_task_audit_report

    scorer = load_callable(utility, "--utility") if utility is not None else None
    audit = audit_federation(target, task_id, validation, receipts, scorer)
    if report is not None:
        write_task_audit_report(target, audit, report, f"ledgerml audit task {task_id}")
    if json_out:
        emit_json({**audit.to_dict(), **({"report": str(report)} if report else {})})
    else:
        _print_audit(task_id, audit, report)
    if not audit.ok:
        raise AuditFailed(f"task {task_id} does not replay as recorded: {first_problem(audit)}")


def _print_audit(task_id: str, audit: TaskAudit, report: Path | None) -> None:
    """The rounds table, then every task-level problem and where the report is."""
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


RoundOption = Annotated[int, typer.Option("--round", help="A finalized round of the secure task.")]
ParticipantOption = Annotated[
    str, typer.Option("--participant", help="The participant whose input is opened (key name or address).")
]


@app.command("open")
def open_input(
    task_id: Annotated[str, typer.Argument(help="A secure task's id (see 'ledgerml fl tasks').")],
    round_: RoundOption,
    participant: ParticipantOption,
    reason: Annotated[str, typer.Option("--reason", help="Why the input is opened (recorded).")] = "audit",
    acting: AsOption = None,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Record an auditor's signed request to open one participant's input of a finalized secure round."""
    from ..federated.secagg_open import request_open, require_secure_round

    target = home_of(home)
    auditor, address = target.identity(acting), target.resolve_address(participant)
    with target.open_ledger() as ledger:
        require_secure_round(ledger.state(), task_id, round_)
        event_id = request_open(ledger, auditor, task_id, round_, address, reason)
    data = {"task": task_id, "round": round_, "participant": address, "auditor": auditor.address}
    if json_out:
        emit_json({**data, "reason": reason, "event_id": event_id})
    else:
        console.print(f"asked {address} to open its round {round_} input of {task_id} (event {event_id})")


@app.command("opening")
def opening(
    task_id: Annotated[str, typer.Argument(help="A secure task's id (see 'ledgerml fl tasks').")],
    round_: RoundOption,
    participant: ParticipantOption,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Check an answered opening: the opened input matches its plaintext commitment and is within the norm
    bound; exit 34 when it does not."""
    from ..federated.secagg_open import check_opening, require_answered

    target = home_of(home)
    address = target.resolve_address(participant)
    with target.open_ledger(as_validator=False) as ledger:
        require_answered(ledger.state(), task_id, round_, address)
        try:
            opened = check_opening(ledger, target.store(), task_id, round_, address)
        except ConfigError as exc:
            raise AuditFailed(str(exc)) from None
    data = {"task": task_id, **opened.to_dict()}
    if json_out:
        emit_json({**data, "ok": opened.commitment_ok and opened.within_bound})
    else:
        console.print(f"commitment: {'matches' if opened.commitment_ok else 'MISMATCH'}")
        console.print(f"norm {opened.norm:.6g} (bound {opened.bound:.6g}, weight {opened.weight})")
    if not opened.commitment_ok:
        raise AuditFailed(f"{address}'s opened round {round_} input does not match its plaintext commitment")
    if not opened.within_bound:
        raise AuditFailed(f"{address}'s opened round {round_} input has norm {opened.norm:.6g} > {opened.bound:.6g}")
