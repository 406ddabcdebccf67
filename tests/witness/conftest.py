"""Witness servers in this process (threads), stopped after each test."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ledgerml.witness.server import WitnessServer, make_server


@pytest.fixture
def start_witness(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """``start(name)`` runs a witness over ``tmp_path/name`` on a free loopback port and returns its URL."""
    running: list[tuple[WitnessServer, threading.Thread]] = []

    def start(name: str) -> str:
        server = make_server(tmp_path / name, 0)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        running.append((server, thread))
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server, thread in running:
        server.shutdown()
        server.server_close()
        thread.join()
