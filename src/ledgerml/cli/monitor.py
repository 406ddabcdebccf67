"""``ledgerml monitor task``: score every participant of a federated task, every round, for attacks."""

from __future__ import annotations

from typing import Annotated

import typer

from ._common import AsOption, HomeOption, JsonOption, console, emit_json, home_of, progress_bar, table

app = typer.Typer(help="Watch federations and chains for attacks; raise signed alerts.", no_args_is_help=True)


@app.command("task")
def task_cmd(
    task_id: Annotated[str, typer.Argument(help="Task id.")],
    raise_alerts: Annotated[
        bool,
        typer.Option("--raise-alerts", help="Sign an AlertRaised (with its explanation) per flag not alerted yet."),
    ] = False,
    acting: AsOption = None,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Suspicion score (0-1, higher = more suspicious) and decision of every participant in every finalized round."""
    from ..federated.monitor import monitor_task

    target = home_of(home)
    signer = target.identity(acting) if raise_alerts else None  # a bad --as fails before any work
    with progress_bar(f"screening {task_id}", enabled=True) as update:
        doc = monitor_task(target, task_id, update, alerts_as=signer)  # one replay scores and raises
    if json_out:
        emit_json(doc)
        return
    if signer is not None:
        console.print(f"{len(doc['alerts'])} alert(s) raised")
    rows = doc["scores"]
    table(
        f"screening of {task_id} ({len(rows)} participant-rounds)",
        ["round", "participant", "score", "decision"],
        [[r["round"], r["participant"], f"{r['score']:.3f}", r["decision"]] for r in rows],
    )


# -- monitor chain (H2) registers below this line ------------------------------------------------------
from .monitor_chain import chain_cmd  # noqa: E402

app.command("chain")(chain_cmd)
