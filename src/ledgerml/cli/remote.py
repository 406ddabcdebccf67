"""``ledgerml remote ...``: take part in a ledger served by ``ledgerml serve`` (and its admin's API tokens)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from .._files import read_bounded
from .._json import loads_bounded
from ..errors import ConfigError, MalformedEvent
from ..events import MAX_EVENT_BYTES, MAX_EVENT_DEPTH, event_from_dict, validate_payload
from ._common import AsOption, HomeOption, JsonOption, console, emit_json, home_of, read_input, table, write_json

app = typer.Typer(
    help="Read and append to a ledger served by 'ledgerml serve'.\n\nAnd, on the serving machine, its API tokens.",
    no_args_is_help=True,
)
token_app = typer.Typer(help="API tokens of this home's service (admin, on the serving machine).")
app.add_typer(token_app, name="token")

UrlOption = Annotated[
    str, typer.Option("--url", envvar="LEDGERML_URL", help="The service, e.g. http://127.0.0.1:8000.")
]
TokenFileOption = Annotated[
    Path | None,
    typer.Option("--token-file", help="A file holding the API token [default: $LEDGERML_TOKEN]."),
]


def _open(url: str, token_file: Path | None) -> Any:
    import os

    from ..ledger.registry import parse_ledger_url
    from ..ledger.remote import RemoteLedger

    parsed = parse_ledger_url(url)
    if parsed.scheme not in ("http", "https"):
        raise ConfigError(f"--url must be http(s)://HOST:PORT, got {url!r}")
    token = os.environ.get("LEDGERML_TOKEN")
    if token_file is not None:
        token = read_bounded(token_file, 4096, what=f"--token-file {token_file}").decode("utf-8", "replace").strip()
    return RemoteLedger(parsed.path, token)


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="A label: the organisation or person the token is for.")],
    identity: Annotated[
        str | None, typer.Option("--identity", help="Participant token: may append events of this identity.")
    ] = None,
    auditor: Annotated[bool, typer.Option("--auditor", help="Read-only token.")] = False,
    admin: Annotated[bool, typer.Option("--admin", help="Token that may append any signed event and seal.")] = False,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Create an API token (printed once; only its SHA-256 is stored). Unlocks the admin's key to prove who asks."""
    from ..service.auth import Scope
    from ..service.context import token_store

    if sum([identity is not None, auditor, admin]) != 1:
        raise ConfigError("give exactly one of --identity NAME_OR_ADDRESS, --auditor, --admin")
    target = home_of(home)
    target.identity(target.config().admin)
    address = target.resolve_address(identity) if identity is not None else None
    scope: Scope = "participant" if identity is not None else "auditor" if auditor else "admin"
    token, record = token_store(target).create(name, scope, address)
    if json_out:
        emit_json({"token": token, **record.public()})
    else:
        console.print(f"token {record.token_id} ({scope}{', ' + address if address else ''}) for {name}:")
        typer.echo(token)
        console.print("  shown once: hand it over now; 'ledgerml remote token revoke ID' ends it")


@token_app.command("list")
def token_list(home: HomeOption = None, json_out: JsonOption = False) -> None:
    """List the tokens (ids, names, scopes, identities, revoked or not) without their secrets."""
    from ..service.context import token_store

    records = [r.public() for r in token_store(home_of(home)).records()]
    if json_out:
        emit_json(records)
        return
    table(
        "API tokens",
        ["id", "name", "scope", "identity", "revoked"],
        [[r["token_id"], r["name"], r["scope"], r["identity"] or "", "yes" if r["revoked"] else ""] for r in records],
    )


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (see 'remote token list').")],
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Revoke a token: the service refuses it from its next request on."""
    from ..service.context import token_store

    target = home_of(home)
    target.identity(target.config().admin)
    record = token_store(target).revoke(token_id)
    if json_out:
        emit_json(record.public())
    else:
        console.print(f"revoked token {record.token_id} ({record.name})")


@app.command("status")
def status(
    url: UrlOption, token_file: TokenFileOption = None, home: HomeOption = None, json_out: JsonOption = False
) -> None:
    """The served ledger's id, size and latest signed block."""
    from ..documents import head

    with _open(url, token_file) as ledger:
        doc = head(ledger)
    if json_out:
        emit_json(doc)
    else:
        block = doc["block"]
        console.print(
            f"ledger {doc['ledger_id']} ({doc['name']}) at {url}: {doc['size']} events, block {block['height']} "
            f"(log size {block['log_size']}), {doc['unsealed']} not yet sealed"
        )


@app.command("log")
def log(
    url: UrlOption,
    start: Annotated[int, typer.Option("--from", min=0, help="First sequence number.")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many events.")] = 50,
    kind: Annotated[str | None, typer.Option(help="Only events of this kind.")] = None,
    token_file: TokenFileOption = None,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """List served events (the same rows as 'chain log')."""
    with _open(url, token_file) as ledger:
        params: dict[str, Any] = {"start": start, "limit": limit} | ({"kind": kind} if kind else {})
        rows = ledger.get("/api/events", **params)["events"]
    if json_out:
        emit_json(rows)
        return
    table(
        "events",
        ["seq", "kind", "actor", "nonce", "sealed"],
        [[r["seq"], r["kind"], r["actor"], r["nonce"], "yes" if r["sealed"] else "pending"] for r in rows],
    )


def _items(file: Path | None, kind: str | None, payload: str | None) -> list[dict[str, Any]]:
    if (file is None) == (kind is None):
        raise ConfigError("give either --kind KIND --payload JSON, or --file EVENTS.jsonl")
    if file is None:
        value = loads_bounded(payload or "{}", what="--payload", max_bytes=MAX_EVENT_BYTES, max_depth=MAX_EVENT_DEPTH)
        if not isinstance(value, dict):
            raise MalformedEvent("--payload must be a JSON object")
        return [{"kind": kind, "payload": value}]
    items = []
    for number, line in enumerate(read_input(file, text=True).decode().splitlines(), 1):
        if line.strip():
            item = loads_bounded(line, what=f"{file}:{number}", max_bytes=MAX_EVENT_BYTES, max_depth=MAX_EVENT_DEPTH)
            if not isinstance(item, dict):
                raise MalformedEvent(f"{file}:{number}: each line must be a JSON object")
            items.append(item)
    if not items:
        raise MalformedEvent(f"{file} holds no events")
    return items


@app.command("append")
def append(
    url: UrlOption,
    kind: Annotated[str | None, typer.Option(help="Event kind, e.g. DatasetRegistered.")] = None,
    payload: Annotated[str | None, typer.Option(help="Payload as a JSON object.")] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="JSON Lines: signed events, or {kind, payload} to sign here.")
    ] = None,
    token_file: TokenFileOption = None,
    home: HomeOption = None,
    acting: AsOption = None,
    json_out: JsonOption = False,
) -> None:
    """Sign here (with this home's key) and send events, or send pre-signed ones; all or nothing."""
    items = _items(file, kind, payload)
    signed = [item for item in items if "signature" in item]
    if signed and len(signed) != len(items):
        raise ConfigError("a batch file holds either only unsigned {kind, payload} lines or only signed events")
    with _open(url, token_file) as ledger:
        if signed:
            events = [event_from_dict(item) for item in items]
            receipts = [ledger.append(events[0])] if len(events) == 1 else ledger.append_batch(events)
        else:
            identity = home_of(home).identity(acting)
            payloads = [validate_payload(str(item.get("kind")), item.get("payload", {})) for item in items]
            receipts = ledger.submit_batch(identity, payloads)
    if json_out:
        emit_json([{"seq": r.seq, "id": r.event_id} for r in receipts])
    else:
        for receipt in receipts:
            console.print(f"appended event {receipt.seq}: {receipt.event_id}")


@app.command("proof")
def proof(
    ref: Annotated[str, typer.Argument(help="Event sequence number or id.")],
    url: UrlOption,
    block: Annotated[int | None, typer.Option("--block", help="Prove against this block [default: latest].")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the proof here instead of stdout.")] = None,
    token_file: TokenFileOption = None,
    home: HomeOption = None,
    json_out: JsonOption = True,
) -> None:
    """Fetch an inclusion proof; check it offline with 'ledgerml chain verify-proof FILE --trust VALIDATOR'."""
    with _open(url, token_file) as ledger:
        result = ledger.inclusion_proof(int(ref) if ref.isdigit() else ref, block)
    write_json(result.to_dict(), out)


@app.command("verify")
def verify(
    url: UrlOption, token_file: TokenFileOption = None, home: HomeOption = None, json_out: JsonOption = False
) -> None:
    """The service's whole-ledger audit (the document of 'ledgerml verify --json' on the serving machine)."""
    from ..errors import TamperDetected

    with _open(url, token_file) as ledger:
        report = ledger.verify()
    if json_out:
        emit_json(report.to_dict())
    elif report.ok:
        console.print(f"[green]OK[/]: {report.events_checked} events and {report.blocks_checked} blocks verified")
    if not report.ok:
        raise TamperDetected(f"ledger verification failed at {report.location}: {report.problem}")
