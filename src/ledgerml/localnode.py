"""Local processes on loopback: a free port, and a local anvil node (npm ``@foundry-rs/anvil``) started and polled.

One home for what the CLI (``ledgerml node``, ``demo --ledger evm``), the test suite and the benchmarks each did
their own way: find the anvil binary, start it on 127.0.0.1 in its own process group, wait until it answers
``eth_chainId``, and stop it by PID (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ._jsonrpc import JsonRpc
from .errors import ConfigError, NotFound

LOOPBACK = "127.0.0.1"
START_TIMEOUT = 30.0
"""Seconds a node has to answer its first ``eth_chainId``."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def anvil_binary() -> str:
    """The anvil executable: the project's ``node_modules`` (``npm ci``), else ``anvil`` on PATH."""
    for base in (Path.cwd(), Path(__file__).resolve().parents[2]):
        candidate = base / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
        if candidate.exists():
            return str(candidate)
    found = shutil.which("anvil")
    if not found:
        raise NotFound("anvil is not installed: run 'npm ci' in the project (package.json pins @foundry-rs/anvil)")
    return found


def alive(pid: int) -> bool:
    """True while ``pid`` runs (reaping it first if it is this process's child; zombies count as stopped)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


def stop_process_group(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM the process group led by ``pid``, then SIGKILL if it is still there after ``timeout`` seconds."""
    if not alive(pid):
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


@dataclass(frozen=True)
class AnvilNode:
    """A running anvil: its process id, port, RPC URL and chain id."""

    pid: int
    port: int
    url: str
    chain_id: int
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)
    cache_dir: Path | None = field(default=None, repr=False, compare=False)

    def stop(self) -> None:
        """Stop the node by its PID (and reap it when this process started it), then delete its state cache."""
        stop_process_group(self.pid)
        if self.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
        if self.cache_dir is not None:
            shutil.rmtree(self.cache_dir, ignore_errors=True)


def launch_anvil(
    port: int | None = None,
    *,
    state_file: Path | None = None,
    extra: Sequence[str] = (),
    log: IO[bytes] | None = None,
    timeout: float = START_TIMEOUT,
    cache_dir: Path | None = None,
) -> AnvilNode:
    """Start anvil on 127.0.0.1 (``port`` or a free one) in its own process group and wait until it answers.

    With ``state_file`` the chain is dumped there every second and reloaded on the next start (survives kill -9).
    Past block states anvil moves out of memory go to ``cache_dir`` (for a throwaway node, a fresh temporary
    directory that :meth:`AnvilNode.stop` deletes); anvil's default, ``~/.foundry/anvil/tmp``, is never cleaned and
    grows by gigabytes per few thousand blocks.
    ``ConfigError`` if it does not answer within ``timeout`` seconds (the process is killed then).
    """
    port = port or free_port()
    cache = Path(tempfile.mkdtemp(prefix="ledgerml-anvil-")) if cache_dir is None else cache_dir
    command = [anvil_binary(), "--host", LOOPBACK, "--port", str(port), "--cache-path", str(cache)]
    if state_file is not None:
        command += ["--state", str(state_file), "--state-interval", "1"]
    command += list(extra)
    sink = log if log is not None else subprocess.DEVNULL
    process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://{LOOPBACK}:{port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            chain_id = int(JsonRpc(url, timeout=1).call("eth_chainId"), 16)
            return AnvilNode(process.pid, port, url, chain_id, process, cache if cache_dir is None else None)
        except ConfigError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                process.wait()
                if cache_dir is None:
                    shutil.rmtree(cache, ignore_errors=True)
                raise ConfigError(f"anvil did not start on port {port}") from None
            time.sleep(0.2)


@contextlib.contextmanager
def running_anvil(*extra: str, port: int | None = None) -> Iterator[AnvilNode]:
    """A throwaway anvil for the length of a ``with`` block (tests, benchmarks, ``demo --ledger evm``)."""
    node = launch_anvil(port, extra=extra)
    try:
        yield node
    finally:
        node.stop()


def launch(home_path: Path, port: int | None = None) -> tuple[int, str, int]:
    """Start a home's node: anvil on 127.0.0.1:``port`` (default: a free one) with its state and PID file in
    ``home_path/node`` (it survives kill -9 and restarts from its state); returns (pid, rpc URL, chain id)."""
    pid_file = home_path / "node" / "anvil.pid"
    if pid_file.exists() and alive(int(pid_file.read_text().split()[0])):
        raise ConfigError(
            f"a node is running already (pid {pid_file.read_text().split()[0]}); 'ledgerml node stop' first"
        )
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    with (pid_file.parent / "anvil.log").open("ab") as log:
        try:
            node = launch_anvil(
                port, state_file=pid_file.parent / "state.json", log=log, cache_dir=pid_file.parent / "cache"
            )
        except ConfigError:
            raise ConfigError(f"anvil did not start; see {pid_file.parent / 'anvil.log'}") from None
    pid_file.write_text(f"{node.pid} {node.port}\n")
    return node.pid, node.url, node.chain_id


def shutdown(home_path: Path) -> int:
    """Stop the node started from ``home_path`` by its PID; returns the PID."""
    pid_file = home_path / "node" / "anvil.pid"
    if not pid_file.exists():
        raise NotFound("no node was started from this home")
    pid = int(pid_file.read_text().split()[0])
    stop_process_group(pid)
    pid_file.unlink()
    shutil.rmtree(home_path / "node" / "cache", ignore_errors=True)
    return pid


__all__ = [
    "AnvilNode",
    "alive",
    "anvil_binary",
    "free_port",
    "launch",
    "launch_anvil",
    "running_anvil",
    "shutdown",
    "stop_process_group",
]
