"""``ledgerml monitor chain --rpc URL|--data FOLDER``: watch replayed or live chain activity for flooding, fee
manipulation and sybil bursts; ``--raise-alerts`` signs one explained alert per detected window."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._common import AsOption, HomeOption, JsonOption, console, emit_json, err_console, home_of, progress_bar, table


def chain_cmd(
    rpc: Annotated[str | None, typer.Option("--rpc", help="JSON-RPC URL of an EVM node (http(s)://...).")] = None,
    data: Annotated[
        Path | None,
        typer.Option("--data", help="Folder with blocks.csv (and optionally transactions.csv) to replay."),
    ] = None,
    from_block: Annotated[
        int | None, typer.Option("--from-block", help="First block to read with --rpc \\[default: the latest 100].")
    ] = None,
    to_block: Annotated[
        int | None, typer.Option("--to-block", help="Last block with --rpc \\[default: latest].")
    ] = None,
    threshold: Annotated[
        float | None, typer.Option("--threshold", help="Alert threshold on the signature score \\[default: 6.9].")
    ] = None,
    raise_alerts: Annotated[
        bool, typer.Option("--raise-alerts", help="Sign an AlertRaised per detected window (admin/auditor).")
    ] = False,
    acting: AsOption = None,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Score every block against its predecessors; list the windows that look like an attack."""
    from ..alerts.chain import monitor_chain

    target = home_of(home) if raise_alerts else None
    with progress_bar("reading blocks", enabled=True) as update:
        document = monitor_chain(
            target,
            rpc=rpc,
            data=data,
            from_block=from_block,
            to_block=to_block,
            threshold=threshold,
            raise_alerts=raise_alerts,
            acting=acting,
            progress=update,
        )
    for note in document["notes"]:
        err_console.print(f"note: {note}")
    if json_out:
        emit_json(document)
        return
    rows = [
        [
            a["attack"],
            f"{a['first_block']}-{a['last_block']}",
            a["peak_block"],
            f"{a['score']:.2f}",
            a.get("alert_id", "-"),
        ]
        for a in document["alerts"]
    ]
    title = f"{document['blocks']} blocks {document['first_block']}..{document['last_block']}: {len(rows)} alert(s)"
    table(title, ["attack", "blocks", "peak", "score", "alert"], rows)
    if not rows:
        console.print(f"no window reached the threshold {document['threshold']}")
