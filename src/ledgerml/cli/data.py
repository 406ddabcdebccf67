"""``ledgerml data register|show|list|prove|check-record|attest``: datasets and their fingerprints."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .._json import loads_bounded
from ..errors import NotFound
from ..provenance import attest, check_record_proof, prove_record, register_dataset
from ..vocab.core import dataset
from ._common import (
    AsOption,
    HomeOption,
    JsonOption,
    check_out,
    console,
    emit_json,
    home_of,
    progress_bar,
    read_proof_file,
    table,
    write_json,
)
from ._provenance import check_id, seal_if_possible

app = typer.Typer(help="Register datasets, show them, prove single records.", no_args_is_help=True)


@app.command("register")
def register(
    path: Annotated[Path, typer.Argument(help="A file or folder; CSV/TSV/Parquet files get record-level roots.")],
    name: Annotated[str | None, typer.Option(help="Dataset name [default: file or folder name].")] = None,
    license: Annotated[str, typer.Option("--license", help="Licence, e.g. CC-BY-4.0.")] = "",
    consent_note: Annotated[str, typer.Option(help="How consent for this data was obtained.")] = "",
    uri: Annotated[str | None, typer.Option(help="Where the data lives [default: its file:// URI].")] = None,
    parent: Annotated[list[str] | None, typer.Option("--parent", help="Dataset id this one derives from.")] = None,
    home: HomeOption = None,
    acting: AsOption = None,
    json_out: JsonOption = False,
) -> None:
    """Fingerprint PATH and register it as a dataset owned by the acting identity (a data_owner)."""
    target = home_of(home)
    owner = target.identity(acting)
    with target.open_ledger() as ledger:
        with progress_bar("fingerprinting", enabled=not json_out):
            registration = register_dataset(
                ledger,
                target.store(),
                owner,
                path,
                name=name,
                uri=uri,
                license=license,
                consent_note=consent_note,
                parents=parent or [],
            )
        seal_if_possible(ledger)
    manifest = registration.manifest
    assert manifest is not None
    records = sum(e.records.count for e in manifest.files if e.records is not None)
    if json_out:
        emit_json(
            {
                "dataset_id": registration.id,
                "seq": registration.receipt.seq,
                "files": len(manifest.files),
                "records": records,
            }
        )
    else:
        console.print(
            f"registered dataset [bold]{registration.id}[/] (event {registration.receipt.seq}): "
            f"{len(manifest.files)} file(s), {records:,} record(s)"
        )


@app.command("list")
def list_(home: HomeOption = None, json_out: JsonOption = False) -> None:
    """List registered datasets."""
    with home_of(home).open_ledger(as_validator=False) as ledger:
        records = sorted(ledger.state().rows("datasets").values(), key=lambda r: r.time)
    if json_out:
        emit_json(
            [{"dataset_id": r.dataset_id, "name": r.name, "owner": r.owner, "license": r.license} for r in records]
        )
    else:
        table(
            "datasets",
            ["id", "name", "owner", "license"],
            [[r.dataset_id[:23] + "…", r.name, r.owner, r.license] for r in records],
        )


@app.command("show")
def show(
    dataset_id: Annotated[str, typer.Argument(help="Dataset id (sha256:...).")],
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Show one dataset's registration and its stored manifest."""
    check_id(dataset_id, "dataset")
    target = home_of(home)
    with target.open_ledger(as_validator=False) as ledger:
        record = dataset(ledger.state(), dataset_id)
        if record is None:
            raise NotFound(f"dataset {dataset_id} is not registered")
        stored = ledger.get_event(record.registered_by)
    manifest = loads_bounded(target.store().get(dataset_id)) if target.store().has(dataset_id) else None
    data = {
        "dataset_id": record.dataset_id,
        "name": record.name,
        "owner": record.owner,
        "uri": record.uri,
        "license": record.license,
        "consent_note": record.consent_note,
        "parents": list(record.parents),
        "event": stored.seq,
        "block": stored.block_height,
        "manifest": manifest,
    }
    if json_out:
        emit_json(data)
    else:
        for key, value in data.items():
            if key != "manifest":
                console.print(f"{key:>13}: {value}", highlight=False)
        if manifest:
            table(
                "files",
                ["path", "sha256", "bytes", "records"],
                [
                    [f["path"], f["digest"]["sha256"][:16] + "…", f["size"], f.get("records", {}).get("count", "")]
                    for f in manifest["files"]
                ],
            )


@app.command("prove")
def prove(
    path: Annotated[Path, typer.Argument(help="The dataset's file or folder (as registered).")],
    row: Annotated[int, typer.Option("--row", help="Data row, 0-based (header excluded).")],
    file: Annotated[str | None, typer.Option("--file", help="Which table, for a folder.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the proof here instead of stdout.")] = None,
    home: HomeOption = None,
    json_out: JsonOption = True,
) -> None:
    """Write a proof that one record is part of the registered dataset (with its ledger inclusion proof)."""
    check_out(out)
    with home_of(home).open_ledger(as_validator=False) as ledger:
        proof = prove_record(path, row, file=file, ledger=ledger)
    write_json(proof, out)


@app.command("check-record")
def check_record(
    proof_file: Annotated[Path, typer.Argument(help="A proof written by 'ledgerml data prove'.")],
    trust: Annotated[list[str] | None, typer.Option("--trust", help="Trusted validator address.")] = None,
    json_out: JsonOption = False,
) -> None:
    """Verify a record proof without the dataset or the ledger."""
    proof, trusted = read_proof_file(proof_file, trust)
    summary = check_record_proof(proof, trusted)
    if json_out:
        emit_json({"ok": True, **summary})
        return
    console.print(f"[green]valid[/]: row {summary['row']} of {summary['file']} is in dataset {summary['dataset_id']}")
    console.print(f"  values: {dict(zip(summary['columns'], summary['values'], strict=False))}", highlight=False)
    if summary["registered"]:
        reg = summary["registered"]
        console.print(f"  registered by {reg['by']} in event {reg['event'][:23]}…, sealed in block {reg['block']}")
    else:
        console.print("  note: the proof carries no ledger registration; only the manifest was checked")


@app.command("attest")
def attest_cmd(
    dataset_id: Annotated[str, typer.Argument(help="Dataset id (sha256:...).")],
    out: Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout.")] = None,
    home: HomeOption = None,
    acting: AsOption = None,
    json_out: JsonOption = True,
) -> None:
    """Print an in-toto/SLSA attestation (DSSE envelope, one JSON line) signed by the registrant."""
    check_id(dataset_id, "dataset")
    check_out(out)
    target = home_of(home)
    with target.open_ledger(as_validator=False) as ledger:
        envelope = attest(ledger, target.identity(acting), dataset_id)
    write_json(envelope, out, jsonl=True)
