"""``ledgerml verify [model PATH | data PATH]``: audit the ledger, or check a model or dataset against it."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from ..errors import ConfigError, TamperDetected
from ..provenance import VerificationReport, verify_dataset, verify_model
from ._common import HomeOption, JsonOption, console, emit_json, home_of, progress_bar

app = typer.Typer(
    help="Audit the whole ledger (no subcommand), or verify a model or dataset against it.", invoke_without_command=True
)


class VerificationFailed(TamperDetected):
    """A model or dataset failed one of its checks."""

    exit_code = 33


TrustOption = Annotated[
    list[str] | None,
    typer.Option(
        "--trust",
        help="An address trusted as the ledger's creator (repeatable): the genesis admin must be one of them "
        "\\[default: the home's admin key, when the home holds it].",
    ),
]
LedgerIdOption = Annotated[str | None, typer.Option("--ledger-id", help="The 32-hex-digit id the ledger must have.")]
AnchorsFromOption = Annotated[
    str | None,
    typer.Option(
        "--anchors-from",
        help="evm+http://HOST:PORT: find this ledger's anchors on that chain (validator-signed heads) and check "
        "them, instead of trusting the home's anchors.jsonl alone.",
    ),
]

WitnessesOption = Annotated[
    int | None,
    typer.Option(
        "--witnesses",
        help="K: require K distinct trusted witnesses (ledgerml witness trust) to have cosigned a checkpoint at or "
        "beyond the newest block, and fail on any block that contradicts a cosigned checkpoint.",
    ),
]


@app.callback()
def verify(
    ctx: typer.Context,
    home: HomeOption = None,
    trust: TrustOption = None,
    ledger_id: LedgerIdOption = None,
    anchors_from: AnchorsFromOption = None,
    anchors_since: Annotated[int, typer.Option("--anchors-since", min=0, help="First chain block to scan.")] = 0,
    witnesses: WitnessesOption = None,
    json_out: JsonOption = False,
) -> None:
    """Check every signature, hash link and Merkle root, replay the state machine, and check whose ledger it is."""
    if ctx.invoked_subcommand is not None:
        return
    from ..verification import verify_home

    if ledger_id is not None and not re.fullmatch(r"[0-9a-fA-F]{32}", ledger_id):
        raise ConfigError(f"--ledger-id must be 32 hex digits, got {ledger_id!r}")
    target = home_of(home)
    with target.open_ledger(as_validator=False) as ledger, progress_bar("verifying", enabled=not json_out) as update:
        report = verify_home(
            target,
            ledger,
            trust=trust,
            ledger_id=ledger_id,
            anchors_from=anchors_from,
            anchors_since=anchors_since,
            progress=update,
            witnesses=witnesses,
        )
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
    with target.open_ledger(as_validator=False) as ledger:
        report = check(ledger, target.store(), path, attestation)
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
