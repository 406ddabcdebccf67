"""``ledgerml init``: create a ledger home with its admin/validator identity and the ledger."""

from __future__ import annotations

from typing import Annotated

import typer

from ..identity import UNENCRYPTED_WARNING
from ._common import HomeOption, JsonOption, ask_password, console, emit_json, err_console, home_of


def init(
    home: HomeOption = None,
    admin: Annotated[str, typer.Option(help="Name of the creator identity (admin and validator).")] = "admin",
    name: Annotated[str, typer.Option(help="Human-readable ledger name.")] = "ledger",
    block_size: Annotated[int, typer.Option(help="Seal a block every N events.")] = 1000,
    block_interval: Annotated[float, typer.Option(help="Seal a block when N seconds passed since the last.")] = 5.0,
    synchronous: Annotated[
        str, typer.Option(help="SQLite durability: normal (survives process kill) or full (also power loss).")
    ] = "normal",
    unencrypted: Annotated[
        bool, typer.Option("--unencrypted", help="Store the key in PLAINTEXT (demos and tests only).")
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Create a ledger home: ledger.db, keys/ and artifacts/, with the creator as admin and validator."""
    target = home_of(home)
    password = None
    if not unencrypted and not (target.path / "keys" / f"{admin}.json").exists():
        password = ask_password(confirm=True, purpose=f"new identity {admin!r}")
    elif not unencrypted:
        password = ask_password(confirm=False, purpose=f"identity {admin!r}")
    config, identity = target.init(
        admin_name=admin,
        password=password,
        unencrypted=unencrypted,
        ledger_name=name,
        block_size=block_size,
        block_interval=block_interval,
        synchronous=synchronous,
    )
    if unencrypted:
        err_console.print(f"[yellow]warning[/]: {UNENCRYPTED_WARNING}")
    if json_out:
        emit_json(
            {
                "home": str(target.path),
                "admin": identity.address,
                "admin_name": admin,
                "ledger": str(target.ledger_path),
            }
        )
        return
    console.print(f"Created ledger home [bold]{target.path}[/]")
    console.print(f"  admin + validator: {admin} ({identity.address})")
    console.print(
        f"  ledger: {target.ledger_path}  (block size {config.block_size}, "
        f"interval {config.block_interval}s, synchronous={config.synchronous})"
    )
