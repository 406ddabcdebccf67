"""``ledgerml verify [model PATH | data PATH]``: audit the ledger, or check a model or dataset against it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from ..errors import TamperDetected
from ..provenance import VerificationReport, verify_dataset, verify_model
from ._common import HomeOption, JsonOption, console, emit_json, home_of, progress_bar

app = typer.Typer(
    help="Audit the whole ledger (no subcommand), or verify a model or dataset against it.", invoke_without_command=True
)


class VerificationFailed(TamperDetected):
    """A model or dataset failed one of its checks."""

    exit_code = 33


@app.callback()
def verify(ctx: typer.Context, home: HomeOption = None, json_out: JsonOption = False) -> None:
    """Check every signature, hash link and Merkle root, and replay the state machine."""
    if ctx.invoked_subcommand is not None:
        return
    from ..anchor import check_anchors, load_anchors

    target = home_of(home)
    ledger = target.open_ledger(as_validator=False)
    try:
        with progress_bar("verifying", enabled=not json_out) as update:
            report = ledger.verify(progress=update)
        anchors = load_anchors(target.path / "anchors.jsonl")
        anchor_problems = check_anchors(ledger, anchors) if report.ok else []
    finally:
        ledger.close()
    if anchors:
        report.notes.append(
            f"{len(anchors)} anchor(s) checked against the chain"
            if not anchor_problems
            else f"{len(anchor_problems)} anchor problem(s)"
        )
    if anchor_problems:
        report.ok, report.location, report.problem = False, "anchors", "; ".join(anchor_problems)
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


def _print(report: VerificationReport, json_out: bool) -> None:
    if json_out:
        emit_json(report.to_dict())
    else:
        for check in report.checks:
            mark = "[green]PASS[/]" if check.ok else "[red]FAIL[/]"
            console.print(f"{mark} {check.name}: {check.detail}", highlight=False)
    if not report.ok:
        failed = report.first_failure
        raise VerificationFailed(f"{report.subject}: {failed.name} check failed" if failed else "no checks ran")


AttestationOption = Annotated[Path | None, typer.Option("--attestation", help="A .intoto.jsonl file to check.")]


def _verify_path(
    check: Callable[..., VerificationReport], path: Path, attestation: Path | None, home: str | None, json_out: bool
) -> None:
    target = home_of(home)
    ledger = target.open_ledger(as_validator=False)
    try:
        report = check(ledger, target.store(), path, attestation)
    finally:
        ledger.close()
    _print(report, json_out)


@app.command("model")
def model_cmd(
    path: Annotated[Path, typer.Argument(help="Model file or folder.")],
    attestation: AttestationOption = None,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Check a model: digest registered, stored copy intact, registration signed and included, lineage valid."""
    _verify_path(verify_model, path, attestation, home, json_out)


@app.command("data")
def data_cmd(
    path: Annotated[Path, typer.Argument(help="Dataset file or folder.")],
    attestation: AttestationOption = None,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Check a dataset: fingerprint registered, manifest stored, registration signed and included, parents."""
    _verify_path(verify_dataset, path, attestation, home, json_out)
