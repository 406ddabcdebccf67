"""Helpers shared by the data and model command groups."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from ..ledger.base import LedgerBackend
from ._common import console


def seal_if_possible(ledger: LedgerBackend) -> None:
    """Cut a block over the new events when this process holds the validator key, so proofs exist at once."""
    if ledger.validator is not None:
        ledger.seal()


def write_json(data: Any, out: Path | None, *, jsonl: bool = False) -> None:
    """Print JSON (one line for ``jsonl``) to stdout or write it to ``out``."""
    text = (
        json.dumps(data, sort_keys=True, separators=(",", ":")) if jsonl else json.dumps(data, indent=2, sort_keys=True)
    ) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text)
        console.print(f"wrote {out}")
