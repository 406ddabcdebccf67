"""``ledgerml monitor task``: score every participant of a federated task, every round, for attacks."""

from __future__ import annotations

from typing import Annotated

import typer

from ._common import HomeOption, JsonOption, emit_json, home_of, progress_bar, table

app = typer.Typer(help="Watch federations and chains for attacks; raise signed alerts.", no_args_is_help=True)


@app.command("task")
def task_cmd(
    task_id: Annotated[str, typer.Argument(help="Task id.")],
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Suspicion score (0-1, higher = more suspicious) and decision of every participant in every finalized round."""
    from ..federated.monitor import monitor_task

    target = home_of(home)
    with progress_bar(f"screening {task_id}", enabled=True) as update:
        doc = monitor_task(target, task_id, update)
    if json_out:
        emit_json(doc)
        return
    rows = doc["scores"]
    table(
        f"screening of {task_id} ({len(rows)} participant-rounds)",
        ["round", "participant", "score", "decision"],
        [[r["round"], r["participant"], f"{r['score']:.3f}", r["decision"]] for r in rows],
    )


# -- monitor chain (H2) registers below this line ------------------------------------------------------
