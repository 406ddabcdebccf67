"""A demo home (three federations of three rounds, rewards, a registered model) shared by the service tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledgerml.home import Home


@dataclass
class Demo:
    """The demo home and one API token of each kind."""

    home: Home
    auditor: str
    admin: str
    participant: str
    participant_name: str


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """Run the demo once (3 rounds) and make an auditor, an admin and a participant token for it."""
    os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
    os.environ.setdefault("FLWR_DISABLE_UPDATE_CHECK", "1")
    from ledgerml.service.context import token_store
    from ledgerml.workflows.demo import new_demo_home, run_demo

    path: Path = tmp_path_factory.mktemp("service") / "home"
    home = new_demo_home(path)
    run_demo(home, keep=True, rounds=3)
    tokens = token_store(home)
    auditor, _ = tokens.create("audit office", "auditor")
    admin, _ = tokens.create("operator", "admin")
    participant, _ = tokens.create("st-mary", "participant", home.keys.info("st-mary").address)
    yield Demo(home, auditor, admin, participant, "st-mary")
