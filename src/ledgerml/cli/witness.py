"""``ledgerml witness serve|trust``: run a C2SP tlog-witness, or make a ledger home trust one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ..errors import ConfigError
from ._common import HomeOption, JsonOption, console, emit_json, home_of

app = typer.Typer(help="Run a checkpoint witness, or trust one.", no_args_is_help=True)


@app.command("serve")
def serve(
    home: Annotated[
        Path, typer.Option("--home", help="The witness's folder (its key and state; created on first start).")
    ],
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port on 127.0.0.1; 0 picks a free one.")] = 8500,
    name: Annotated[
        str | None, typer.Option("--name", help="Witness name on first start \\[default: witness.ledgerml.local/ID].")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Serve a witness on 127.0.0.1 (POST /add-checkpoint, GET /ledgerml/witness) until SIGTERM or SIGINT."""
    from ..witness.server import make_server, serve_until_signal

    if home.exists() and not home.is_dir():
        raise ConfigError(f"--home {home} is not a folder")
    server = make_server(home, port, name)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    if json_out:
        typer.echo(json.dumps({"url": url, "name": server.identity.name, "vkey": str(server.identity.vkey)}))
    else:
        console.print(f"witness {server.identity.name} at {url}\n  key {server.identity.vkey}", highlight=False)
    serve_until_signal(server)
    if not json_out:
        console.print("stopped")


@app.command("trust")
def trust(
    url: Annotated[str, typer.Argument(help="The witness's URL, http://HOST:PORT.")],
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Record the witness's name and key in the home and register this ledger's checkpoint key with it."""
    from ..witness.client import check_url
    from ..witness.home import trust_witness

    check_url(url)
    target = home_of(home)
    with target.open_ledger(as_validator=False) as ledger:
        witness = trust_witness(target, ledger, url)
    if json_out:
        emit_json({"name": witness.name, "vkey": witness.vkey, "url": witness.url})
    else:
        console.print(f"trusted witness {witness.name} ({witness.vkey}) at {witness.url}", highlight=False)
