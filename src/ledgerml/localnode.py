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


def _in_use(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:``port``."""
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((LOOPBACK, port)) == 0


class PortInUse(ConfigError):
    """Another process listens on the port a node was to take."""

    def __init__(self, port: int) -> None:
        super().__init__(f"another process listens on 127.0.0.1:{port}: choose another port")


def listener_pid_matches(pid: int, port: int) -> bool | None:
    """Whether process ``pid`` or a process in the group it leads holds a socket listening on ``port`` (TCP, IPv4
    or IPv6, any address); ``None`` where ``/proc`` cannot tell (no ``/proc``, or no listener on the port in it).
    A port from :func:`free_port` can be handed to two processes at once (another test worker's node): the one that
    loses the bind exits, but until it does, the winner's answers on that port look like its own."""
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = [line.split() for line in Path(table).read_text().splitlines()[1:]]
        except OSError:
            continue
        listening |= {
            f"socket:[{row[9]}]"
            for row in rows
            if len(row) > 9 and row[3] == "0A" and row[1].rpartition(":")[2] == f"{port:04X}"
        }
    if not listening:
        return None
    return any(_holds(member, listening) for member in _group(pid))


def _group(leader: int) -> list[int]:
    """``leader`` and the processes in the process group it leads."""
    members = [leader]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == leader and int(stat.parent.name) != leader:
                members.append(int(stat.parent.name))
    return members


def _holds(pid: int, sockets: set[str]) -> bool:
    """Whether one of ``pid``'s open descriptors is one of ``sockets`` (``socket:[inode]`` links)."""
    try:
        descriptors = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for descriptor in descriptors:
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{pid}/fd/{descriptor}") in sockets:
                return True
    return False


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
    if port is not None and _in_use(port):
        raise PortInUse(port)
    for _ in range(1 if port is not None else PORT_ATTEMPTS):
        node = _start_anvil(port or free_port(), state_file, extra, log, timeout, cache_dir)
        if node is not None:
            return node
    if port is not None:
        raise PortInUse(port)
    raise ConfigError(f"another process took each of the {PORT_ATTEMPTS} free ports anvil was given")


PORT_ATTEMPTS = 5
"""Fresh ports :func:`launch_anvil` tries when another process wins the race for the one it picked."""


def _start_anvil(
    port: int,
    state_file: Path | None,
    extra: Sequence[str],
    log: IO[bytes] | None,
    timeout: float,
    cache_dir: Path | None,
) -> AnvilNode | None:
    """One start of anvil on ``port``: the node once it answers, ``None`` if another process listens there."""
    cache = Path(tempfile.mkdtemp(prefix="ledgerml-anvil-")) if cache_dir is None else cache_dir
    command = [anvil_binary(), "--host", LOOPBACK, "--port", str(port), "--cache-path", str(cache)]
    if state_file is not None:
        command += ["--state", str(state_file), "--state-interval", "1"]
    command += list(extra)
    sink = log if log is not None else subprocess.DEVNULL
    process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://{LOOPBACK}:{port}"
    deadline = time.monotonic() + timeout

    def give_up() -> None:
        process.kill()
        process.wait()
        if cache_dir is None:
            shutil.rmtree(cache, ignore_errors=True)

    while True:
        try:
            chain_id = JsonRpc(url, timeout=1).quantity("eth_chainId")
        except ConfigError:
            if process.poll() is not None or time.monotonic() > deadline:
                give_up()
                if _in_use(port):  # it lost the port to another process
                    return None
                raise ConfigError(f"anvil did not start on port {port}") from None
            time.sleep(0.2)
            continue
        if listener_pid_matches(process.pid, port) is False:  # someone else's node answered
            give_up()
            return None
        return AnvilNode(process.pid, port, url, chain_id, process, cache if cache_dir is None else None)


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
    if port is not None and _in_use(port):  # before anything is written
        raise PortInUse(port)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    with (pid_file.parent / "anvil.log").open("ab") as log:
        try:
            node = launch_anvil(
                port, state_file=pid_file.parent / "state.json", log=log, cache_dir=pid_file.parent / "cache"
            )
        except PortInUse:
            raise
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
    "PortInUse",
    "alive",
    "anvil_binary",
    "free_port",
    "launch",
    "launch_anvil",
    "listener_pid_matches",
    "running_anvil",
    "shutdown",
    "stop_process_group",
]
