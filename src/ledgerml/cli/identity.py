"""``ledgerml identity create|list|show``: keys and their Ethereum addresses."""

from __future__ import annotations

from typing import Annotated

import typer

from ..identity import UNENCRYPTED_WARNING, KeyStore
from ._common import HomeOption, JsonOption, ask_password, console, emit_json, err_console, home_of, table

app = typer.Typer(help="Create and inspect identities (secp256k1 keys, V3 keystores).", no_args_is_help=True)


def _store(home: str | None) -> KeyStore:
    return home_of(home).keys


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Identity name (letters, digits, '_', '.', '-').")],
    home: HomeOption = None,
    unencrypted: Annotated[
        bool, typer.Option("--unencrypted", help="Store the key in PLAINTEXT (demos and tests only).")
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Create a new identity and store it as an encrypted V3 keystore."""
    store = _store(home)
    password = None if unencrypted else ask_password(confirm=True, purpose=f"new identity {name!r}")
    identity = store.create(name, password, unencrypted=unencrypted)
    if unencrypted:
        err_console.print(f"[yellow]warning[/]: {UNENCRYPTED_WARNING}")
    if json_out:
        emit_json({"name": name, "address": identity.address, "encrypted": not unencrypted})
    else:
        console.print(f"{name}: {identity.address}" + ("" if not unencrypted else "  [yellow](UNENCRYPTED)[/]"))


@app.command("list")
def list_(home: HomeOption = None, json_out: JsonOption = False) -> None:
    """List stored identities."""
    infos = _store(home).list()
    if json_out:
        emit_json([{"name": i.name, "address": i.address, "encrypted": i.encrypted} for i in infos])
    else:
        table(
            "identities",
            ["name", "address", "storage"],
            [[i.name, i.address, "encrypted" if i.encrypted else "UNENCRYPTED"] for i in infos],
        )


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Identity name.")],
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Show one identity's address, storage and (if the home has a ledger) its roles and nonce."""
    target = home_of(home)
    info = target.keys.info(name)
    data: dict[str, object] = {
        "name": info.name,
        "address": info.address,
        "encrypted": info.encrypted,
        "keystore": str(info.path),
    }
    if target.exists():
        from ..state import next_nonce
        from ..vocab.core import roles_of

        with target.open_ledger(as_validator=False) as ledger:
            state = ledger.state()
            data["roles"] = sorted(role.value for role in roles_of(state, info.address))
            data["next_nonce"] = next_nonce(state, info.address)
    if json_out:
        emit_json(data)
    else:
        for key, value in data.items():
            console.print(f"{key:>10}: {value}")
