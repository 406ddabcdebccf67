"""Shared fixtures: deterministic identities and fresh ledgers."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledgerml import Identity, Ledger, sqlite_url
from ledgerml.ledger.sqlite import SqliteLedger

os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")

# Hypothesis: no time-based health check on data generation (CI shares two cores); examples and assertions unchanged
from hypothesis import HealthCheck, settings

settings.register_profile("ledgerml", suppress_health_check=[HealthCheck.too_slow], deadline=None)
settings.load_profile("ledgerml")


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Run ``ledgerml ARGS`` in-process against a fresh home in tmp_path; asserts no traceback is printed."""
    from ._cli import run_cli

    monkeypatch.setenv("LEDGERML_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LEDGERML_PASSWORD", raising=False)
    monkeypatch.setenv("COLUMNS", "200")

    def run(*args: str):  # type: ignore[no-untyped-def]
        result = run_cli(*args)
        assert "Traceback" not in result.err, result.err
        return result

    return run


@pytest.fixture
def home(cli, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """An initialised home (unencrypted keys, blocks of 3) with identities alice and bob."""
    result = cli("init", "--unencrypted", "--block-size", "3", "--block-interval", "3600", "--json")
    assert result.code == 0, result
    for name in ("alice", "bob"):
        assert cli("identity", "create", name, "--unencrypted").code == 0
    return tmp_path / "home"


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


def _slow_count(items: list[pytest.Item]) -> dict[str, int]:
    """How many ``slow``-marked tests each test file holds (every file collected appears)."""
    counts: dict[str, int] = {}
    for item in items:
        path = item.nodeid.partition("::")[0]
        counts[path] = counts.get(path, 0) + (item.get_closest_marker("slow") is not None)
    return counts


def slow_files_first(items: list[pytest.Item]) -> list[pytest.Item]:
    """The files with most ``slow`` tests first; each file's tests stay together and in order (module fixtures are
    set up once), and files with the same count keep their collection order."""
    counts = _slow_count(items)
    rank = {path: index for index, path in enumerate(counts)}
    return sorted(
        items, key=lambda item: (-counts[item.nodeid.partition("::")[0]], rank[item.nodeid.partition("::")[0]])
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the slow files first: with work stealing (below) the long tests start early and quick ones fill the end,
    instead of a long test that started last keeping one worker busy alone."""
    items[:] = slow_files_first(items)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """``-n`` without ``--dist``: work stealing (an idle worker takes half of another's queue) instead of xdist's
    ``load``, which hands out fixed chunks and so can leave one worker finishing a long queue alone."""
    if config.getvalue("dist") != "load" or any(
        arg.startswith(("--dist", "-d")) for arg in config.invocation_params.args
    ):
        return None
    from xdist.scheduler import WorkStealingScheduling

    return WorkStealingScheduling(config, log)  # type: ignore[arg-type]


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


def start_anvil(*extra: str):  # type: ignore[no-untyped-def]
    """A real anvil 1.7.1 node on a free loopback port, stopped by PID on exit (yields its RPC URL)."""
    from ledgerml.localnode import running_anvil

    @contextlib.contextmanager
    def running() -> Iterator[str]:
        with running_anvil(*extra) as anvil:
            yield anvil.url

    return running()


@pytest.fixture
def node() -> Iterator[str]:
    """A real anvil 1.7.1 node on a free loopback port, stopped by PID afterwards."""
    with start_anvil() as url:
        yield url


@pytest.fixture(autouse=True)
def _flower_logs_follow_capture() -> Iterator[None]:
    """Flower's log handler keeps the stream it was created with; a test's capsys stream is closed afterwards,
    and later tests' logging would then print 'Logging error' tracebacks. Point it at the live stderr."""
    import logging
    import sys

    for handler in logging.getLogger("flwr").handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.stream = sys.stderr  # not setStream(): it would flush the old, closed stream
    yield
