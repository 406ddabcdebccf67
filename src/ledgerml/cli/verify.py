"""``ledgerml verify``: audit a whole ledger and name the first bad block or event."""

from __future__ import annotations

import typer

from ..errors import TamperDetected
from ._common import HomeOption, JsonOption, console, emit_json, home_of, progress_bar


def verify(home: HomeOption = None, json_out: JsonOption = False) -> None:
    """Check every signature, hash link and Merkle root, and replay the state machine."""
    ledger = home_of(home).open_ledger(as_validator=False)
    try:
        with progress_bar("verifying", enabled=not json_out) as update:
            report = ledger.verify(progress=update)
    finally:
        ledger.close()
    if json_out:
        emit_json(report.to_dict())
    elif report.ok:
        console.print(
            f"[green]OK[/]: {report.events_checked} events and {report.blocks_checked} blocks verified; "
            f"state {report.state_digest}"
        )
        for note in report.notes:
            console.print(f"  note: {note}")
    if not report.ok:
        raise TamperDetected(f"ledger verification failed at {report.location}: {report.problem}")
    raise typer.Exit(0)
