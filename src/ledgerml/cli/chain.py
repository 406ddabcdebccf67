"""``ledgerml chain ...``: append, read events and blocks, make and check Merkle proofs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from .._json import loads_bounded
from ..errors import ConfigError, InvalidProof, MalformedEvent
from ..events import MAX_EVENT_BYTES, MAX_EVENT_DEPTH, event_from_dict, validate_payload
from ..ledger.proofs import (
    ConsistencyProof,
    InclusionProof,
    verify_consistency_proof,
    verify_inclusion_proof,
)
from ._common import (
    AsOption,
    HomeOption,
    JsonOption,
    console,
    emit_json,
    err_console,
    home_of,
    progress_bar,
    read_input,
    read_proof_file,
    table,
    write_json,
)

app = typer.Typer(help="Append events, inspect the log and blocks, make and check proofs.", no_args_is_help=True)


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _ref(text: str) -> int | str:
    """An event reference: a sequence number or an id (``sha256:<hex>`` or bare hex)."""
    return int(text) if text.isascii() and text.isdigit() else text


@app.command("log")
def log(
    home: HomeOption = None,
    start: Annotated[int, typer.Option("--from", help="First sequence number.")] = 0,
    limit: Annotated[int, typer.Option(help="At most this many events.")] = 50,
    kind: Annotated[str | None, typer.Option(help="Only events of this kind.")] = None,
    json_out: JsonOption = False,
) -> None:
    """List events in log order."""
    with home_of(home).open_ledger(as_validator=False) as ledger:
        sealed = ledger.block().log_size
        stored = [s for s in ledger.events(start, start + limit) if kind is None or s.event.kind == kind]
    if json_out:
        from ..documents import event_row

        emit_json([event_row(s, sealed) for s in stored])
        return
    table(
        "events",
        ["seq", "time (UTC)", "kind", "actor", "nonce", "id", "sealed"],
        [
            [
                s.seq,
                _when(s.event.time),
                s.event.kind,
                s.event.actor,
                s.event.nonce,
                s.event.id[:19] + "...",
                "yes" if s.seq < sealed else "pending",
            ]
            for s in stored
        ],
    )


@app.command("blocks")
def blocks(
    home: HomeOption = None,
    start: Annotated[int, typer.Option("--from", help="First height.")] = 0,
    limit: Annotated[int, typer.Option(help="At most this many blocks.")] = 50,
    json_out: JsonOption = False,
) -> None:
    """List blocks."""
    with home_of(home).open_ledger(as_validator=False) as ledger:
        headers = list(ledger.blocks(start, start + limit))
    if json_out:
        emit_json([h.to_dict() for h in headers])
        return
    table(
        "blocks",
        ["height", "time (UTC)", "log size", "log root", "hash", "proposer"],
        [
            [h.height, _when(h.time), h.log_size, h.log_root.hex()[:16] + "...", h.hash.hex()[:16] + "...", h.proposer]
            for h in headers
        ],
    )


@app.command("show")
def show(
    ref: Annotated[str | None, typer.Argument(help="Event sequence number or id.")] = None,
    block: Annotated[int | None, typer.Option("--block", help="Show this block instead of an event.")] = None,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Show one event (by seq or id) or one block (--block HEIGHT)."""
    if (ref is None) == (block is None):
        raise ConfigError("give either an event reference or --block HEIGHT")
    with home_of(home).open_ledger(as_validator=False) as ledger:
        if block is not None:
            data = ledger.block(block).to_dict()
        else:
            from ..documents import event_detail

            assert ref is not None
            data = event_detail(ledger, _ref(ref))
    if json_out:
        emit_json(data)
    else:
        for key, value in data.items():
            console.print(
                f"{key:>10}: {json.dumps(value) if isinstance(value, dict | list) else value}", highlight=False
            )


@app.command("proof")
def proof(
    ref: Annotated[str, typer.Argument(help="Event sequence number or id.")],
    block: Annotated[int | None, typer.Option("--block", help="Prove against this block \\[default: latest].")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the proof here instead of stdout.")] = None,
    home: HomeOption = None,
    json_out: JsonOption = True,
) -> None:
    """Write an inclusion proof (event + RFC 9162 audit path + signed block header) as JSON."""
    with home_of(home).open_ledger(as_validator=False) as ledger:
        result = ledger.inclusion_proof(_ref(ref), block)
    write_json(result.to_dict(), out)


@app.command("consistency")
def consistency(
    old: Annotated[int, typer.Argument(help="Older block height.")],
    new: Annotated[int | None, typer.Argument(help="Newer block height \\[default: latest].")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the proof here instead of stdout.")] = None,
    home: HomeOption = None,
    json_out: JsonOption = True,
) -> None:
    """Write a consistency proof between two blocks (both signed headers + RFC 9162 path) as JSON."""
    with home_of(home).open_ledger(as_validator=False) as ledger:
        result = ledger.consistency_proof(old, new)
    write_json(result.to_dict(), out)


@app.command("verify-proof")
def verify_proof(
    path: Annotated[Path, typer.Argument(help="A proof file written by 'chain proof' or 'chain consistency'.")],
    trust: Annotated[
        list[str] | None,
        typer.Option("--trust", help="Accept only blocks proposed by this validator address (repeatable)."),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Check a proof file on its own: no ledger or network needed."""
    data, trusted = read_proof_file(path, trust)
    kind = data.get("type") if isinstance(data, dict) else None
    if kind == "inclusion":
        event = verify_inclusion_proof(InclusionProof.from_dict(data), trusted)
        result = {
            "ok": True,
            "type": "inclusion",
            "event": event.id,
            "kind": event.kind,
            "actor": event.actor,
            "leaf_index": data["leaf_index"],
            "block": data["block"]["height"],
        }
    elif kind == "consistency":
        verify_consistency_proof(ConsistencyProof.from_dict(data), trusted)
        result = {
            "ok": True,
            "type": "consistency",
            "old_block": data["old_block"]["height"],
            "new_block": data["new_block"]["height"],
        }
    else:
        raise InvalidProof(f"{path} is not a ledgerml proof")
    if json_out:
        emit_json(result)
    else:
        console.print(
            f"[green]valid[/] {kind} proof: "
            + ", ".join(f"{k}={v}" for k, v in result.items() if k not in ("ok", "type"))
        )
        if trusted is None:
            console.print("  note: proposer not pinned; pass --trust ADDRESS to require a known validator")


@app.command("append")
def append(
    kind: Annotated[str | None, typer.Option(help="Event kind, e.g. DatasetRegistered.")] = None,
    payload: Annotated[str | None, typer.Option(help="Payload as a JSON object.")] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            help='JSON Lines of {"kind", "payload"} to sign and append as one batch, or of complete signed events.',
        ),
    ] = None,
    home: HomeOption = None,
    acting: AsOption = None,
    json_out: JsonOption = False,
) -> None:
    """Sign and append one event (--kind/--payload), or a batch from a JSON Lines file (all or nothing)."""
    if (file is None) == (kind is None):
        raise ConfigError("give either --kind KIND --payload JSON, or --file EVENTS.jsonl")
    items = _load_items(file) if file is not None else [{"kind": kind, "payload": _json_object(payload or "{}")}]
    target = home_of(home)
    signed = [item for item in items if "signature" in item]
    if signed and len(signed) != len(items):
        raise ConfigError("a batch file holds either only unsigned {kind, payload} lines or only signed events")
    with target.open_ledger() as ledger, progress_bar("appending", enabled=not json_out and len(items) > 1) as update:
        if signed:
            events = [event_from_dict(item) for item in items]
            receipts = ledger.append_batch(events)
        else:
            identity = target.identity(acting)
            payloads = []
            for index, item in enumerate(items):
                try:
                    payloads.append(validate_payload(str(item.get("kind")), item.get("payload", {})))
                except MalformedEvent as exc:
                    raise exc.in_batch(index) if len(items) > 1 else exc from None
            receipts = ledger.submit_batch(identity, payloads)
        update(len(receipts), len(items))
    if json_out:
        emit_json([{"seq": r.seq, "id": r.event_id} for r in receipts])
    else:
        for receipt in receipts[:20]:
            console.print(f"appended event {receipt.seq}: {receipt.event_id}")
        if len(receipts) > 20:
            console.print(f"... and {len(receipts) - 20} more ({len(receipts)} in all)")


def _json_object(text: str) -> dict[str, Any]:
    value = loads_bounded(text, what="--payload", max_bytes=MAX_EVENT_BYTES, max_depth=MAX_EVENT_DEPTH)
    if not isinstance(value, dict):
        raise MalformedEvent("--payload must be a JSON object")
    return value


MAX_BATCH = 100_000
"""Most events one ``chain append --file`` takes."""


def _load_items(path: Path) -> list[dict[str, Any]]:
    lines = read_input(path, text=True).decode("utf-8").splitlines()
    items: list[dict[str, Any]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if len(items) >= MAX_BATCH:
            raise MalformedEvent(f"{path} holds more than {MAX_BATCH:,} events; split it into smaller batches")
        item = loads_bounded(line, what=f"{path}:{number}", max_bytes=MAX_EVENT_BYTES, max_depth=MAX_EVENT_DEPTH)
        if not isinstance(item, dict):
            raise MalformedEvent(f"{path}:{number}: each line must be a JSON object")
        items.append(item)
    if not items:
        raise MalformedEvent(f"{path} holds no events")
    return items


@app.command("seal")
def seal(home: HomeOption = None, json_out: JsonOption = False) -> None:
    """Seal a block now over all pending events (needs the validator key)."""
    target = home_of(home)
    with target.open_ledger() as ledger:
        if ledger.validator is None:
            raise ConfigError("the validator key could not be opened (set LEDGERML_PASSWORD): no block can be sealed")
        header = ledger.seal()
    if json_out:
        emit_json(None if header is None else header.to_dict())
    elif header is None:
        console.print("nothing to seal: every event is in a block")
    else:
        console.print(f"sealed block {header.height}: log size {header.log_size}, root {header.log_root.hex()}")


@app.command("deploy")
def deploy_contracts(
    rpc: Annotated[str, typer.Option(help="JSON-RPC URL of the EVM node, e.g. http://127.0.0.1:8545.")],
    key: Annotated[str, typer.Option(help="Stored identity that deploys: the new ledger's admin and validator.")],
    deployment: Annotated[
        Path | None, typer.Option(help="Where to write the deployment file \\[default: HOME/deployment.json].")
    ] = None,
    name: Annotated[str, typer.Option(help="The ledger's name (in its genesis event).")] = "ledger",
    use: Annotated[bool, typer.Option("--use", help="Make this home's ledger the deployed one.")] = False,
    dev_funding: Annotated[
        bool, typer.Option("--dev-funding", help="Pay gas from the node's unlocked account (anvil only).")
    ] = False,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Deploy the ledger and reward-token contracts and write the deployment file (chain id, addresses, block)."""
    import dataclasses

    target = home_of(home)
    result, path, url = target.deploy_evm_ledger(
        rpc, key, deployment=deployment, name=name, use=use, dev_funding=dev_funding
    )
    if json_out:
        emit_json({**dataclasses.asdict(result), "file": str(path), "ledger_url": url, "used": use})
    else:
        console.print(
            f"deployed ledger {result.ledger_id} on chain {result.chain_id} at block {result.block}: "
            f"ledger contract {result.ledger}, token {result.token}\ndeployment file: {path}\nledger URL: {url}"
        )


@app.command("template")
def template(
    kind: Annotated[str, typer.Argument(help="An event kind, e.g. DatasetRegistered ('chain template --list').")] = "",
    list_kinds: Annotated[bool, typer.Option("--list", help="List every event kind instead.")] = False,
    json_out: JsonOption = False,
) -> None:
    """Print a complete payload for KIND that passes its schema (every field, defaults explicit) on stdout,
    ready for 'chain append --payload', and each field's type on stderr. Replace the example values."""
    from ..workflows.templates import event_kinds, payload_template

    if list_kinds or not kind:
        if not list_kinds:
            raise ConfigError("give an event kind (or --list): " + ", ".join(event_kinds()))
        if json_out:
            emit_json(event_kinds())
        else:
            typer.echo("\n".join(event_kinds()))
        return
    found = payload_template(kind)
    if json_out:
        emit_json(
            {
                "kind": found.kind,
                "payload": found.payload,
                "fields": [{"name": f.name, "type": f.type, "required": f.required} for f in found.fields],
            }
        )
        return
    typer.echo(json.dumps(found.payload, sort_keys=True))
    err_console.print(f"{found.kind}: {found.doc}", highlight=False)
    for f in found.fields:
        state = "required" if f.required else f"default {json.dumps(found.payload[f.name])}"
        err_console.print(f"  {f.name}: {f.type}; {state}", highlight=False, markup=False)
