"""``ledgerml node start|stop|status`` (a local anvil node with a persistent state file) and
``ledgerml anchor --to evm+http://…`` (write the ledger's signed head to a chain)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..localnode import alive, launch, shutdown
from ._common import AsOption, HomeOption, JsonOption, console, emit_json, home_of

app = typer.Typer(help="A local Ethereum node (anvil 1.7.1 from npm) for anchoring and tests.", no_args_is_help=True)


def _pid_file(home: str | None) -> Path:
    return home_of(home).path / "node" / "anvil.pid"


@app.command("start")
def start(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8545,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Start anvil bound to 127.0.0.1 with its state in HOME/node/state.json (survives kill -9)."""
    pid, rpc, chain = launch(home_of(home).path, port)
    if json_out:
        emit_json({"pid": pid, "rpc": rpc, "chain_id": chain})
    else:
        console.print(f"anvil running (pid {pid}) at {rpc}, chain id {chain}")


@app.command("stop")
def stop(home: HomeOption = None, json_out: JsonOption = False) -> None:
    """Stop the node started by 'node start' (by its PID)."""
    pid = shutdown(home_of(home).path)
    if json_out:
        emit_json({"stopped": pid})
    else:
        console.print(f"stopped anvil (pid {pid})")


@app.command("status")
def status(home: HomeOption = None, json_out: JsonOption = False) -> None:
    """Whether the node runs, and its chain id and block number."""
    from .._jsonrpc import JsonRpc

    pid_file = _pid_file(home)
    data: dict[str, object] = {"running": False}
    if pid_file.exists():
        pid, port = (int(v) for v in pid_file.read_text().split())
        if alive(pid):
            rpc = JsonRpc(f"http://127.0.0.1:{port}", timeout=2)
            data = {
                "running": True,
                "pid": pid,
                "rpc": f"http://127.0.0.1:{port}",
                "chain_id": rpc.quantity("eth_chainId"),
                "block": rpc.quantity("eth_blockNumber"),
            }
    if json_out:
        emit_json(data)
    else:
        console.print(", ".join(f"{k}: {v}" for k, v in data.items()))


def anchor(
    to: Annotated[str, typer.Option("--to", help="evm+http://HOST:PORT of the chain to anchor on.")],
    home: HomeOption = None,
    acting: AsOption = None,
    dev_funding: Annotated[
        bool,
        typer.Option(
            "--dev-funding", help="First top the key up from the node's unlocked account (anvil and other dev nodes)."
        ),
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Write the ledger's latest signed block header to an EVM chain; 'ledgerml verify' checks it later.

    The transaction is signed by --as (default: the home's default identity) and pays gas: fund that address,
    or on a development node pass --dev-funding."""
    from ..anchor import anchor_head, save_anchor

    target = home_of(home)
    with target.open_ledger() as ledger:
        if ledger.validator is not None:
            ledger.seal()
        record = anchor_head(ledger, target.identity(acting), to, dev_funding=dev_funding)
    save_anchor(target.path / "anchors.jsonl", record)
    if json_out:
        from dataclasses import asdict

        emit_json(asdict(record))
    else:
        console.print(
            f"anchored block {record.height} (log size {record.log_size}) in transaction "
            f"{record.transaction} on chain {record.chain_id}"
        )
