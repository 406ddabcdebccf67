"""``ledgerml fl run|tasks``: run a federation from a config file; list the tasks on a ledger."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .._extras import require, require_extra
from ._common import (
    AsOption,
    HomeOption,
    JsonOption,
    LogLevelOption,
    StageProgress,
    VerboseOption,
    check_out,
    console,
    emit_json,
    home_of,
    quiet_flower,
    table,
)

if TYPE_CHECKING:
    from ..federated.workflow import FederationResult

app = typer.Typer(help="Run federated training recorded on the ledger; list tasks.", no_args_is_help=True)


ReportOption = Annotated[
    Path | None,
    typer.Option("--report", help="Also write an HTML report (date, version, ledger id, settings, rounds, audit)."),
]


@app.command("run")
def run(
    config: Annotated[Path, typer.Argument(help="A federation TOML file (see examples/).")],
    mode: Annotated[
        str,
        typer.Option(
            help="local (one process), simulation (Flower + Ray) or deployment (SuperLink + SuperNodes on localhost)."
        ),
    ] = "local",
    unencrypted: Annotated[
        bool, typer.Option("--unencrypted", help="Create missing participant keys in PLAINTEXT (demos and tests only).")
    ] = False,
    report: ReportOption = None,
    verbose: VerboseOption = False,
    log_level: LogLevelOption = None,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Set up (identities, roles, registered partitions, task), train, register the model, audit every round
    and every payout. Refused while another process runs the same task; an error if every round it ran failed."""
    from ..federated.config import FederationConfig
    from ..federated.workflow import check_mode, first_problem, run_federation, write_run_report
    from .audit import AuditFailed

    require_extra("fl", "'ledgerml fl run'")
    check_mode(mode)
    quiet_flower(verbose, log_level)
    check_out(report, "--report")
    settings = FederationConfig.from_toml(config)
    target = home_of(home)
    with StageProgress(settings.rounds, not json_out) as shown:
        result = run_federation(
            target,
            settings,
            mode=mode,
            unencrypted=unencrypted,
            on_round=shown.round_done if mode == "local" else None,
            on_stage=shown.stage,
        )
    if report is not None:
        write_run_report(target, settings, result, report, f"ledgerml fl run {config} --mode {mode}")
    if json_out:
        emit_json({**result.to_dict(), **({"report": str(report)} if report else {})})
    else:
        _print_run(result)
        if report is not None:
            console.print(f"report: {report}")
    if not result.audit.ok:
        raise AuditFailed(f"the audit of {settings.task_id} found problems: {first_problem(result.audit)}")


def _print_run(result: FederationResult) -> None:
    """The rounds table (with the DP budget spent, for DP tasks), the registered model and the audit verdict."""
    from ..federated.report import ROUND_COLUMNS, round_rows

    table(f"task {result.task_id}", ROUND_COLUMNS, round_rows(result.rounds))
    console.print(f"final model {result.model_id} registered; attestation {result.attestation}")
    console.print(
        "audit: " + ("[green]every round and payout replays exactly[/]" if result.audit.ok else "[red]MISMATCH[/]")
    )


@app.command("validate")
def validate(
    config: Annotated[Path, typer.Argument(help="A federation TOML file (schema: docs/federation-config.md).")],
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Check a federation config without writing anything: every table, key, type and bound, the data
    partition, and (in an existing home) that the task would be accepted or resumes with the same settings."""
    from dataclasses import asdict

    require("sklearn", extra="fl", purpose="'ledgerml fl validate' (it loads the data set)")
    from ..federated.config import FederationConfig
    from ..federated.workflow import validate_federation

    settings = FederationConfig.from_toml(config)
    target = home_of(home)
    validate_federation(target if target.exists() else None, settings)
    if json_out:
        emit_json({"ok": True, "task": settings.task_id, "settings": asdict(settings)})
    else:
        console.print(
            f"[green]valid[/]: task {settings.task_id}, {settings.participants} participants, {settings.rounds} "
            f"rounds, rule {settings.rule}"
            + (f", attack {settings.attack}" if settings.attack != "none" else "")
            + (", DP on" if settings.dp else "")
            + ("" if target.exists() else f" (no ledger home at {target.path}: ledger checks skipped)"),
            highlight=False,
        )


@app.command("setup")
def setup(
    config: Annotated[Path, typer.Argument(help="A federation TOML file.")],
    unencrypted: Annotated[
        bool, typer.Option("--unencrypted", help="Create missing participant keys in PLAINTEXT (demos and tests only).")
    ] = False,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Only set up a federation (identities, roles, registered partitions, task and plan), e.g. before
    starting SuperNodes on other machines."""
    require("sklearn", extra="fl", purpose="'ledgerml fl setup' (it loads the data set)")
    from ..federated.config import FederationConfig
    from ..federated.runner import setup_federation

    settings = FederationConfig.from_toml(config)
    plan = setup_federation(home_of(home), settings, unencrypted=unencrypted)
    if json_out:
        emit_json({"task": settings.task_id, "plan": str(plan)})
    else:
        console.print(f"task {settings.task_id} created; plan {plan}")


@app.command("tasks")
def tasks(home: HomeOption = None, json_out: JsonOption = False) -> None:
    """List the federated tasks on the ledger with their ids and progress."""
    from ..documents import task_list

    with home_of(home).open_ledger(as_validator=False) as ledger:
        rows = task_list(ledger.state())
    if json_out:
        emit_json(rows)
    else:
        table(
            "tasks",
            ["task", "rule", "rounds", "finalized", "aggregator"],
            [[r["task"], r["rule"], r["rounds"], r["finalized"], r["aggregator"]] for r in rows],
        )


@app.command("answer-open")
def answer_open_cmd(
    task_id: Annotated[str, typer.Argument(help="A secure task's id (see 'ledgerml fl tasks').")],
    round_: Annotated[int, typer.Option("--round", help="The round whose input an auditor asked to open.")],
    vault: Annotated[
        Path | None, typer.Option("--vault", help="Where the opening secrets are kept \\[default: HOME/secagg/NAME].")
    ] = None,
    acting: AsOption = None,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """As a participant, answer an auditor's recorded request: publish the salt and mask key of that round."""
    from ..federated.secagg_open import answer_open

    target = home_of(home)
    name = acting or target.config().default_identity
    me = target.identity(name)
    kept = vault if vault is not None else target.path / "secagg" / name
    with target.open_ledger() as ledger:
        digest = answer_open(ledger, target.store(), me, kept, task_id, round_)
    if json_out:
        emit_json({"task": task_id, "round": round_, "participant": me.address, "opening_digest": digest})
    else:
        console.print(f"opened {me.address}'s round {round_} input of {task_id} (opening {digest})")
