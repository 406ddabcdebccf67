"""Flower's deployment engine on localhost: a SuperLink, one SuperNode per participant (separate processes,
bound to 127.0.0.1), and ``flwr run`` of ledgerml's Flower App. Every process is started in its own session
and stopped by its process-group id, also when the run fails.

Across machines the same pieces run on different hosts: see docs/federated.md.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import ConfigError
from ..home import Home
from ..localnode import free_port
from .plan import load_plan

APP_DIR = Path(__file__).parent / "flower_app"


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if not found:
        raise ConfigError(f"{name} is not installed (pip install 'ledgerml[fl]')")
    return found


def _wait_for_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise ConfigError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f}s")


class LocalDeployment:
    """Start a SuperLink and SuperNodes for a task, run it with ``flwr run``, stop everything.

    By default the app is ledgerml's own and there is one SuperNode per planned participant; ``app_dir``,
    ``nodes`` and ``node_config`` run another Flower App (e.g. one with ``ledger_mod``), with ``node_config(i)``
    the extra ``--node-config`` settings of SuperNode ``i`` (its key file, say)."""

    def __init__(
        self,
        home: Home,
        task_id: str,
        *,
        workdir: Path | None = None,
        app_dir: Path = APP_DIR,
        nodes: int | None = None,
        node_config: Callable[[int], str] | None = None,
    ) -> None:
        self.home = home
        self.task_id = task_id
        self.app_dir = app_dir
        self.count = nodes if nodes is not None else len(load_plan(home, task_id).participants)
        self.node_config = node_config
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="ledgerml-flower-"))
        self.processes: list[subprocess.Popen[bytes]] = []
        self.port = free_port()
        self.env = {
            **os.environ,
            "FLWR_HOME": str(self.workdir / "flwr"),
            "FLWR_TELEMETRY_ENABLED": "0",
            "FLWR_DISABLE_UPDATE_CHECK": "1",
        }

    def _start(self, name: str, args: list[str]) -> None:
        log = (self.workdir / f"{name}.log").open("wb")
        self.processes.append(
            subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.workdir, start_new_session=True
            )
        )

    def start(self) -> None:
        """Start the SuperLink and one SuperNode per participant."""
        (self.workdir / "flwr").mkdir(parents=True, exist_ok=True)
        (self.workdir / "flwr" / "config.toml").write_text(
            '[superlink]\ndefault = "ledgerml-local"\n\n[superlink.ledgerml-local]\n'
            f'address = "127.0.0.1:{self.port}"\ninsecure = true\n'
        )
        self._start(
            "superlink",
            [
                _tool("flower-superlink"),
                "--insecure",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--database",
                str(self.workdir / "superlink.db"),
                "--disable-runtime-dependency-installation",
            ],
        )
        _wait_for_port(self.port, 60)
        for index in range(self.count):
            self._start(
                f"supernode{index}",
                [
                    _tool("flower-supernode"),
                    "--insecure",
                    "--superlink",
                    f"127.0.0.1:{self.port}",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(free_port()),
                    "--node-config",
                    " ".join(
                        [f"partition-id={index} num-partitions={self.count}"]
                        + ([self.node_config(index)] if self.node_config else [])
                    ),
                ],
            )

    def run(self, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        """``flwr run`` the app against this SuperLink and wait for it to finish."""
        return subprocess.run(
            [
                _tool("flwr"),
                "run",
                str(self.app_dir),
                "ledgerml-local",
                "--stream",
                "--run-config",
                f"home='{self.home.path}' task='{self.task_id}'",
            ],
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def stop(self) -> None:
        """Stop every started process (and its children) by process group; wait for each."""
        for process in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=20)

    def __enter__(self) -> LocalDeployment:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
