"""``ledgerml node start|stop|status`` (a local anvil node with a persistent state file) and
``ledgerml anchor --to evm+http://…`` (write the ledger's signed head to a chain)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Annotated

import typer

from ..errors import ConfigError, NotFound
from ._common import AsOption, HomeOption, JsonOption, console, emit_json, home_of

app = typer.Typer(help="A local Ethereum node (anvil 1.7.1 from npm) for anchoring and tests.", no_args_is_help=True)


def _anvil() -> str:
    for base in (Path.cwd(), Path(__file__).resolve().parents[3]):
        candidate = base / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
        if candidate.exists():
            return str(candidate)
    found = shutil.which("anvil")
    if not found:
        raise NotFound("anvil is not installed: run 'npm ci' in the project (package.json pins @foundry-rs/anvil)")
    return found


def _pid_file(home: str | None) -> Path:
    return home_of(home).path / "node" / "anvil.pid"


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (reaping it first if it is this process's child; zombies count as stopped)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


def launch(home_path: Path, port: int) -> tuple[int, str, int]:
    """Start anvil on 127.0.0.1:``port`` with its state in ``home_path/node``; returns (pid, rpc URL, chain id)."""
    pid_file = home_path / "node" / "anvil.pid"
    if pid_file.exists() and _alive(int(pid_file.read_text().split()[0])):
        raise ConfigError(
            f"a node is running already (pid {pid_file.read_text().split()[0]}); 'ledgerml node stop' first"
        )
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    log = (pid_file.parent / "anvil.log").open("ab")
    process = subprocess.Popen(
        [
            _anvil(),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--state",
            str(pid_file.parent / "state.json"),
            "--state-interval",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    from .._jsonrpc import JsonRpc

    deadline = time.monotonic() + 30
    while True:
        try:
            chain = int(JsonRpc(f"http://127.0.0.1:{port}", timeout=1).call("eth_chainId"), 16)
            break
        except Exception:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                process.wait()
                raise ConfigError(f"anvil did not start; see {pid_file.parent / 'anvil.log'}") from None
            time.sleep(0.2)
    pid_file.write_text(f"{process.pid} {port}\n")
    return process.pid, f"http://127.0.0.1:{port}", chain


def shutdown(home_path: Path) -> int:
    """Stop the node started from ``home_path`` by its PID; returns the PID."""
    pid_file = home_path / "node" / "anvil.pid"
    if not pid_file.exists():
        raise NotFound("no node was started from this home")
    pid = int(pid_file.read_text().split()[0])
    if _alive(pid):
        os.killpg(pid, signal.SIGTERM)
        for _ in range(100):
            if not _alive(pid):
                break
            time.sleep(0.1)
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)
    pid_file.unlink()
    return pid


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
        if _alive(pid):
            rpc = JsonRpc(f"http://127.0.0.1:{port}", timeout=2)
            data = {
                "running": True,
                "pid": pid,
                "rpc": f"http://127.0.0.1:{port}",
                "chain_id": int(rpc.call("eth_chainId"), 16),
                "block": int(rpc.call("eth_blockNumber"), 16),
            }
    if json_out:
        emit_json(data)
    else:
        console.print(", ".join(f"{k}: {v}" for k, v in data.items()))


def anchor(
    to: Annotated[str, typer.Option("--to", help="evm+http://HOST:PORT of the chain to anchor on.")],
    home: HomeOption = None,
    acting: AsOption = None,
    json_out: JsonOption = False,
) -> None:
    """Write the ledger's latest signed block header to an EVM chain; 'ledgerml verify' checks it later."""
    from ..anchor import anchor_head, save_anchor

    target = home_of(home)
    ledger = target.open_ledger()
    try:
        if ledger.validator is not None:
            ledger.seal()
        record = anchor_head(ledger, target.identity(acting), to)
    finally:
        ledger.close()
    save_anchor(target.path / "anchors.jsonl", record)
    if json_out:
        from dataclasses import asdict

        emit_json(asdict(record))
    else:
        console.print(
            f"anchored block {record.height} (log size {record.log_size}) in transaction "
            f"{record.transaction} on chain {record.chain_id}"
        )
