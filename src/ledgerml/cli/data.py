"""``ledgerml data register|show|list|prove|check-record|attest``: datasets and their fingerprints."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..provenance import attest, check_record_proof, prove_record, register_dataset
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
        with progress_bar("fingerprinting", enabled=not json_out) as update:
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
                progress=update,
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
    from ..documents import dataset_list

    with home_of(home).open_ledger(as_validator=False) as ledger:
        rows = dataset_list(ledger.state())
    if json_out:
        emit_json(rows)
    else:
        table(
            "datasets",
            ["id", "name", "owner", "license"],
            [[r["dataset_id"][:23] + "…", r["name"], r["owner"], r["license"]] for r in rows],
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
    from ..documents import dataset_detail

    with target.open_ledger(as_validator=False) as ledger:
        data = dataset_detail(target, ledger, dataset_id)
    manifest = data["manifest"]
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


# -- sealed datasets: encrypt, grant, revoke, rotate, decrypt, access ------------------------------------

DatasetArgument = Annotated[str, typer.Argument(help="Dataset id (sha256:...) that 'data encrypt' printed.")]


@app.command("encrypt")
def encrypt(
    path: Annotated[Path, typer.Argument(help="A file or folder to seal (encrypt into the store) and register.")],
    name: Annotated[str | None, typer.Option(help="Dataset name [default: file or folder name].")] = None,
    license: Annotated[str, typer.Option("--license", help="Licence, e.g. CC-BY-4.0.")] = "",
    consent_note: Annotated[str, typer.Option(help="How consent for this data was obtained.")] = "",
    version_of: Annotated[
        str | None, typer.Option("--version-of", help="A sealed dataset this is a new version of (same grants).")
    ] = None,
    home: HomeOption = None,
    acting: AsOption = None,
    json_out: JsonOption = False,
) -> None:
    """Seal PATH: fingerprint it, encrypt it into the store with a fresh or the current data key, register it."""
    from ..access import seal_dataset

    if version_of is not None:
        check_id(version_of, "dataset")
    target = home_of(home)
    owner = target.identity(acting)
    with target.open_ledger() as ledger:
        with progress_bar("sealing", enabled=not json_out) as update:
            result = seal_dataset(
                ledger,
                target.store(),
                owner,
                path,
                name=name,
                license=license,
                consent_note=consent_note,
                version_of=version_of,
                progress=update,
            )
        seal_if_possible(ledger)
    records = sum(e.records.count for e in result.manifest.files if e.records is not None)
    if json_out:
        emit_json(
            {
                "dataset_id": result.dataset_id,
                "epoch": result.epoch,
                "series": result.series,
                "sealed": result.sealed,
                "files": len(result.manifest.files),
                "records": records,
            }
        )
    else:
        console.print(
            f"sealed dataset [bold]{result.dataset_id}[/] under key epoch {result.epoch}: "
            f"{len(result.manifest.files)} file(s), {records:,} record(s)",
            highlight=False,
        )


@app.command("grant")
def grant(
    dataset_id: DatasetArgument,
    to: Annotated[str, typer.Option("--to", help="Grantee: an identity name or an address.")],
    purpose: Annotated[str, typer.Option(help="What the grantee may use the data for.")] = "",
    expires: Annotated[
        str | None, typer.Option(help="Expiry: a duration (90m, 12h, 30d) or ISO 8601 time [default: never].")
    ] = None,
    home: HomeOption = None,
    acting: AsOption = None,
    json_out: JsonOption = False,
) -> None:
    """Grant a registered identity the dataset's data key (wrapped with HPKE for its encryption key)."""
    from ..access import grant_access
    from ..access.expiry import parse_expiry
    from ..events import now_ms

    check_id(dataset_id, "dataset")
    target = home_of(home)
    until = None if expires is None else parse_expiry(expires, now_ms())
    grantee = target.resolve_address(to)
    owner = target.identity(acting)
    with target.open_ledger() as ledger:
        receipt = grant_access(ledger, target.store(), owner, dataset_id, grantee, purpose=purpose, expires=until)
        seal_if_possible(ledger)
    if json_out:
        emit_json({"dataset_id": dataset_id, "grantee": grantee, "expires": until, "seq": receipt.seq})
    else:
        console.print(f"granted {to} ({grantee}) access to {dataset_id} (event {receipt.seq})", highlight=False)


def _print_rotation(rotation: object, json_out: bool, what: str) -> None:
    from ..access import Rotation

    assert isinstance(rotation, Rotation)
    if json_out:
        emit_json(
            {
                "dataset_id": rotation.series,
                "epoch": rotation.epoch,
                "readers": list(rotation.readers),
                "seq": rotation.receipts[-1].seq,
            }
        )
    else:
        console.print(
            f"{what}: data key of {rotation.series} is now epoch {rotation.epoch}, "
            f"wrapped for {len(rotation.readers)} reader(s)",
            highlight=False,
        )


@app.command("revoke")
def revoke(
    dataset_id: DatasetArgument,
    from_: Annotated[str, typer.Option("--from", help="Grantee to revoke: an identity name or an address.")],
    reason: Annotated[str, typer.Option(help="Why (recorded on the ledger).")] = "",
    home: HomeOption = None,
    acting: AsOption = None,
    json_out: JsonOption = False,
) -> None:
    """Revoke a grant and rotate the data key to a new epoch wrapped for the owner and the remaining grantees."""
    from ..access import revoke_access

    check_id(dataset_id, "dataset")
    target = home_of(home)
    grantee = target.resolve_address(from_)
    owner = target.identity(acting)
    with target.open_ledger() as ledger:
        rotation = revoke_access(ledger, target.store(), owner, dataset_id, grantee, reason=reason)
        seal_if_possible(ledger)
    _print_rotation(rotation, json_out, f"revoked {from_}")


@app.command("rotate")
def rotate(
    dataset_id: DatasetArgument,
    reason: Annotated[str, typer.Option(help="Why (recorded on the ledger).")] = "rotation",
    home: HomeOption = None,
    acting: AsOption = None,
    json_out: JsonOption = False,
) -> None:
    """Open a new key epoch for the owner and the live grantees (expired grants are left out)."""
    from ..access import rotate_key

    check_id(dataset_id, "dataset")
    target = home_of(home)
    owner = target.identity(acting)
    with target.open_ledger() as ledger:
        rotation = rotate_key(ledger, target.store(), owner, dataset_id, reason=reason)
        seal_if_possible(ledger)
    _print_rotation(rotation, json_out, "rotated")


@app.command("decrypt")
def decrypt(
    dataset_id: DatasetArgument,
    out: Annotated[Path, typer.Option("--out", help="Where to write the plaintext (a new folder for a folder).")],
    purpose: Annotated[str, typer.Option(help="Why it is read (recorded in the access log).")] = "",
    home: HomeOption = None,
    acting: AsOption = None,
    json_out: JsonOption = False,
) -> None:
    """Decrypt a sealed dataset as the acting identity (owner or grantee); the key release is logged (AccessUsed)."""
    from ..access import decrypt_dataset

    check_id(dataset_id, "dataset")
    target = home_of(home)
    reader = target.identity(acting)
    with target.open_ledger() as ledger:
        opened = decrypt_dataset(ledger, target.store(), reader, dataset_id, out, purpose=purpose)
        seal_if_possible(ledger)
    if json_out:
        emit_json(
            {
                "dataset_id": dataset_id,
                "epoch": opened.epoch,
                "out": str(opened.out),
                "files": opened.files,
                "bytes": opened.bytes,
                "seq": opened.receipt.seq,
            }
        )
    else:
        console.print(f"decrypted {dataset_id} (epoch {opened.epoch}) to {opened.out}: {opened.bytes:,} bytes")


@app.command("access")
def access(dataset_id: DatasetArgument, home: HomeOption = None, json_out: JsonOption = False) -> None:
    """Show a sealed dataset's key epochs, versions, grants, revocations and uses (the access log)."""
    from ..access import access_report

    check_id(dataset_id, "dataset")
    with home_of(home).open_ledger(as_validator=False) as ledger:
        report = access_report(ledger, dataset_id)
    if json_out:
        emit_json(report)
        return
    console.print(f"dataset {report['dataset_id']}  owner {report['owner']}  epoch {report['epoch']}", highlight=False)
    table(
        "epochs",
        ["epoch", "readers", "reason", "time"],
        [[e["epoch"], len(e["readers"]), e["reason"], e["time"]] for e in report["epochs"]],
    )
    table(
        "grants",
        ["grantee", "epoch", "purpose", "expires", "time"],
        [[g["grantee"], g["epoch"], g["purpose"], g["expires"] or "never", g["time"]] for g in report["grants"]],
    )
    table(
        "revocations",
        ["grantee", "reason", "time"],
        [[r["grantee"], r["reason"], r["time"]] for r in report["revocations"]],
    )
    table(
        "uses",
        ["reader", "version", "epoch", "purpose", "time"],
        [[u["reader"], u["dataset_id"][:23] + "…", u["epoch"], u["purpose"], u["time"]] for u in report["uses"]],
    )
