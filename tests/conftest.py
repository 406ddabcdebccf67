"""Shared fixtures: deterministic identities and fresh ledgers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledgerml import Identity, Ledger, sqlite_url
from ledgerml.ledger.sqlite import SqliteLedger

os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")


def make_identity(name: str, seed: int) -> Identity:
    """A fixed identity so failures are reproducible."""
    return Identity.from_private_key(name, (seed + 1).to_bytes(32, "big"))


@pytest.fixture
def admin() -> Identity:
    return make_identity("admin", 1000)


@pytest.fixture
def alice() -> Identity:
    return make_identity("alice", 2000)


@pytest.fixture
def bob() -> Identity:
    return make_identity("bob", 3000)


@pytest.fixture
def sqlite_ledger(tmp_path: Path, admin: Identity) -> Iterator[SqliteLedger]:
    ledger = Ledger.create(sqlite_url(tmp_path / "ledger.db", block_size=4), admin=admin, name="test")
    assert isinstance(ledger, SqliteLedger)
    yield ledger
    ledger.close()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--regen-golden", action="store_true", help="rewrite golden files instead of comparing")


@pytest.fixture
def golden(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Compare text with tests/golden/NAME, or rewrite it when run with --regen-golden."""
    regen = bool(request.config.getoption("--regen-golden"))

    def check(name: str, text: str) -> None:
        path = Path(__file__).parent / "golden" / name
        if regen:
            path.parent.mkdir(exist_ok=True)
            path.write_text(text)
            return
        assert path.exists(), f"missing golden file {path}; run pytest --regen-golden once and review it"
        assert text == path.read_text(), f"{name} differs from its golden file (pytest --regen-golden to accept)"

    return check
