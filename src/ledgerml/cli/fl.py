"""``ledgerml fl run|tasks``: run a federation from a config file; list the tasks on a ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .._json import loads_bounded
from ..errors import ConfigError, TamperDetected
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
    """Set up (identities, roles, registered partitions, task), train, register the model, audit every round."""
    from ..federated.audit import audit_task
    from ..federated.runner import FederationConfig, register_final_model, round_history, setup_federation

    if mode not in ("local", "simulation", "deployment"):
        raise ConfigError("--mode must be local, simulation or deployment")
    settings = FederationConfig.from_toml(config)
    target = home_of(home)
    setup_federation(target, settings, unencrypted=unencrypted)
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
    model_id, attestation = register_final_model(target, settings.task_id)
    ledger = target.open_ledger(as_validator=False)
    try:
        audit = audit_task(ledger, target.store(), settings.task_id)
    finally:
        ledger.close()
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
        console.print("round audit: " + ("[green]every round replays exactly[/]" if audit.ok else "[red]MISMATCH[/]"))
    if not audit.ok:
        raise TamperDetected(f"the round audit of {settings.task_id} found problems: run 'ledgerml audit task'")


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
