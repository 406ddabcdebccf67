"""``ledgerml fl run|tasks``: run a federation from a config file; list the tasks on a ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .._json import loads_bounded
from ..errors import ConfigError
from ..tasks import progress
from ._common import HomeOption, JsonOption, console, emit_json, err_console, home_of, table

app = typer.Typer(help="Run federated training recorded on the ledger; list tasks.", no_args_is_help=True)


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
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Set up (identities, roles, registered partitions, task), train, register the model, audit every round
    and every payout. Refused while another process runs the same task; an error if every round it ran failed."""
    from ..federated.runner import (
        FederationConfig,
        federation_lock,
        preflight,
        register_final_model,
        require_success,
        round_history,
        setup_federation,
    )
    from .audit import AuditFailed, first_problem, run_audits

    if mode not in ("local", "simulation", "deployment"):
        raise ConfigError("--mode must be local, simulation or deployment")
    settings = FederationConfig.from_toml(config)
    target = home_of(home)
    preflight(target, settings)
    with federation_lock(target, settings.task_id):
        setup_federation(target, settings, unencrypted=unencrypted)
        first_round = len(round_history(target, settings.task_id)) + 1
        if mode == "local":
            from ..federated.apps import run_in_process

            with _round_progress(settings.rounds, not json_out) as on_round:
                run_in_process(target, settings.task_id, on_round=on_round)
        elif mode == "simulation":
            from ..federated.apps import run_simulation

            run_simulation(target, settings.task_id)
        else:
            from ..federated.deploy import LocalDeployment

            with LocalDeployment(target, settings.task_id) as deployment:
                finished = deployment.run()
            if finished.returncode != 0:
                raise ConfigError(f"flwr run failed: {finished.stderr[-2000:] or finished.stdout[-2000:]}")
        require_success(target, settings.task_id, first_round)
        model_id, attestation = register_final_model(target, settings.task_id)
        audit = run_audits(target, settings.task_id)
    history = round_history(target, settings.task_id)
    result = {
        "task": settings.task_id,
        "rounds": len(history),
        "model_id": model_id,
        "attestation": str(attestation),
        "audit_ok": audit.ok,
        "val_accuracy": [round(r["metrics"].get("val_accuracy", float("nan")), 4) for r in history],
    }
    if json_out:
        emit_json(result)
    else:
        table(
            f"task {settings.task_id}",
            ["round", "status", "accepted", "rejected", "val accuracy"],
            [
                [
                    r["round"],
                    r["status"],
                    len(r["accepted"]),
                    len(r["rejected"]),
                    f"{r['metrics'].get('val_accuracy', float('nan')):.3f}",
                ]
                for r in history
            ],
        )
        console.print(f"final model {model_id} registered; attestation {attestation}")
        console.print(
            "audit: " + ("[green]every round and payout replays exactly[/]" if audit.ok else "[red]MISMATCH[/]")
        )
    if not audit.ok:
        raise AuditFailed(f"the audit of {settings.task_id} found problems: {first_problem(audit)}")


class _round_progress:
    """A rich progress bar advanced once per finalized round."""

    def __init__(self, rounds: int, enabled: bool) -> None:
        self.rounds, self.enabled = rounds, enabled and err_console.is_terminal

    def __enter__(self):  # type: ignore[no-untyped-def]
        if not self.enabled:
            return lambda outcome: None
        from rich.progress import Progress

        self._progress = Progress(console=err_console, transient=True)
        self._progress.__enter__()
        task = self._progress.add_task("training rounds", total=self.rounds)
        return lambda outcome: self._progress.advance(task)

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self._progress.__exit__(None, None, None)


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
    from ..federated.runner import FederationConfig, setup_federation

    settings = FederationConfig.from_toml(config)
    plan = setup_federation(home_of(home), settings, unencrypted=unencrypted)
    if json_out:
        emit_json({"task": settings.task_id, "plan": str(plan)})
    else:
        console.print(f"task {settings.task_id} created; plan {plan}")


@app.command("tasks")
def tasks(home: HomeOption = None, json_out: JsonOption = False) -> None:
    """List the federated tasks on the ledger with their ids and progress."""
    ledger = home_of(home).open_ledger(as_validator=False)
    try:
        state = ledger.state()
        rows = [
            {
                "task": t.task_id,
                "name": t.name,
                "rule": t.rule,
                "rule_params": loads_bounded(t.rule_params),
                "rounds": t.rounds,
                "finalized": progress(state, t.task_id).finalized,
                "aggregator": t.aggregator,
            }
            for t in sorted(state.rows("tasks").values(), key=lambda r: r.task_id)
        ]
    finally:
        ledger.close()
    if json_out:
        emit_json(rows)
    else:
        table(
            "tasks",
            ["task", "rule", "rounds", "finalized", "aggregator"],
            [[r["task"], r["rule"], r["rounds"], r["finalized"], r["aggregator"]] for r in rows],
        )
