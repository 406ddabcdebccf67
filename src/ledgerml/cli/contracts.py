"""``ledgerml contracts scan|train``: find vulnerabilities in Solidity files (table, JSON or SARIF), optionally
recorded on the ledger as a signed scan report; train and register the learned detector."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ..errors import ConfigError
from ._common import (
    AsOption,
    HomeOption,
    JsonOption,
    check_out,
    console,
    emit_json,
    err_console,
    home_of,
    table,
    write_output,
)

app = typer.Typer(help="Scan Solidity contracts for vulnerabilities.", no_args_is_help=True)
FORMATS = ("table", "json", "sarif")


@app.command("scan")
def scan(
    paths: Annotated[list[Path], typer.Argument(help="Solidity files or folders (every .sol file under them).")],
    output_format: Annotated[str, typer.Option("--format", help="table, json or sarif (SARIF 2.1.0).")] = "table",
    out: Annotated[Path | None, typer.Option("--out", help="Write the JSON or SARIF document to this file.")] = None,
    record: Annotated[bool, typer.Option("--record", help="Record a signed scan report on the ledger.")] = False,
    model: Annotated[
        Path | None, typer.Option("--model", help="A folder written by 'contracts train' [default: the bundled model].")
    ] = None,
    unregistered: Annotated[
        bool, typer.Option("--unregistered", help="Use a --model folder that is not registered on this ledger.")
    ] = False,
    slither: Annotated[bool, typer.Option(help="Add Slither's findings where Slither is installed.")] = True,
    min_confidence: Annotated[float, typer.Option(help="Report findings at least this confident (0..1).")] = 0.5,
    home: HomeOption = None,
    acting: AsOption = None,
    json_out: JsonOption = False,
) -> None:
    """Scan files and folders; exit 0 when every file was scanned, 1 when some could not be (listed as errors)."""
    from .. import __version__
    from .._extras import require_extra

    require_extra("contracts", purpose="'ledgerml contracts scan'")
    from ..analytics.contracts.api import scan_contracts

    chosen = "json" if json_out and output_format == "table" else output_format
    if chosen not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, not {output_format!r}")
    if not 0.0 <= min_confidence <= 1.0:
        raise ConfigError("--min-confidence must be between 0 and 1")
    check_out(out)
    loaded = None
    if model is not None:
        from ..analytics.contracts.workflows import load_contract_model

        loaded = load_contract_model(model, home_of(home), unregistered=unregistered)
    report = scan_contracts(paths, model=loaded, slither=slither, min_confidence=min_confidence)
    event_id = None
    if record and report.ok:  # a scan with files it could not read is reported (exit 1), never recorded
        from ..analytics.contracts.workflows import record_scan

        event_id = record_scan(report, home_of(home), acting=acting)
    _print(report, chosen, out, event_id, __version__)
    if not report.ok:
        first = report.errors[0]
        more = f" (and {len(report.errors) - 1} more, listed in the report)" if len(report.errors) > 1 else ""
        unrecorded = "; nothing was recorded" if record else ""
        err_console.print(
            f"[bold red]error[/]: {len(report.errors)} file(s) could not be scanned: {escape(first.file)}: "
            f"{escape(first.error)}{more}{unrecorded}",
            markup=True,
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)


def _print(report: object, chosen: str, out: Path | None, event_id: str | None, version: str) -> None:
    from ..analytics.contracts.sarif import to_sarif
    from ..analytics.contracts.scan import ScanReport

    assert isinstance(report, ScanReport)
    if chosen == "table":
        _table(report)
        if event_id:
            console.print(f"recorded as {event_id}")
        return
    document = to_sarif(report, version) if chosen == "sarif" else report.to_json()
    if event_id and chosen == "json":
        document["recorded"] = event_id
    if out is None:
        emit_json(document)
    else:
        write_output(out, (json.dumps(document, indent=2, sort_keys=True) + "\n").encode())
        console.print(f"wrote {out}", highlight=False, soft_wrap=True)


def _table(report: object) -> None:
    from ..analytics.contracts.scan import ScanReport

    assert isinstance(report, ScanReport)
    rows = [
        [
            f.file,
            f"{f.start_line}-{f.end_line}",
            f.category,
            f.swc or "",
            f"{f.confidence:.2f}",
            ", ".join(f.detectors),
            f.explanation,
        ]
        for f in report.findings
    ]
    table(
        f"{len(report.findings)} finding(s) in {len(report.files)} file(s)",
        ["file", "lines", "category", "SWC", "conf", "detectors", "why"],
        rows,
    )
    for error in report.errors:
        console.print(f"not scanned: {escape(error.file)}: {escape(error.error)}", highlight=False, soft_wrap=True)
    console.print("detectors: " + "; ".join(f"{k} {v}" for k, v in sorted(report.detectors.items())))


@app.command("train")
def train(
    data: Annotated[Path, typer.Option("--data", help="The SolidiFI benchmark folder (holds buggy_contracts/).")],
    model_out: Annotated[Path, typer.Option("--model-out", help="Folder to write the model into.")],
    register: Annotated[bool, typer.Option(help="Register the model (and its training split) on the ledger.")] = True,
    home: HomeOption = None,
    acting: AsOption = None,
    json_out: JsonOption = False,
) -> None:
    """Train the learned detector on the training split only (buggy_1..25 of every bug type), save it as
    LightGBM text + JSON, and register it with the training split's fingerprint."""
    from ..analytics.contracts.workflows import train_contract_detector

    result = train_contract_detector(data, model_out, home=home_of(home) if register else None, acting=acting)
    if json_out:
        emit_json(
            {
                "model": str(model_out),
                "model_id": result.model_id,
                "training_data": result.training_data,
                **result.metrics,
            }
        )
    else:
        console.print(
            f"trained on {result.metrics['training_units']} statements of {result.metrics['training_contracts']} "
            f"contracts (training data {result.training_data}); saved to {model_out}"
            + (f"; registered as {result.model_id}" if result.model_id else "")
        )
