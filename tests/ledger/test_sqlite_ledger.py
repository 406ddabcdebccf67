"""SQLite specifics: opening, URL options, time-cut blocks, two handles on one file, bad files."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from ledgerml import DatasetRegistered, Identity, Ledger, RoleGranted, sqlite_url
from ledgerml.errors import AlreadyExists, ConfigError, NotFound, Unauthorized
from ledgerml.ledger.registry import parse_ledger_url
from ledgerml.ledger.sqlite import SqliteLedger
from ledgerml.types import Role


def test_url_parsing() -> None:
    assert parse_ledger_url("sqlite:///rel/l.db").path == "rel/l.db"
    assert parse_ledger_url("sqlite:////abs/l.db?synchronous=full").options == {"synchronous": "full"}
    for bad in ("postgres://x/y", "sqlite://host/l.db", "sqlite:///"):
        with pytest.raises(ConfigError):
            parse_ledger_url(bad)


def test_bad_options_are_refused(tmp_path: Path, admin: Identity) -> None:
    for query in ("synchronous=sometimes", "block_size=0", "block_size=x", "colour=blue"):
        with pytest.raises(ConfigError):
            Ledger.create(f"sqlite:///{tmp_path}/l.db?{query}", admin=admin)
    assert list(tmp_path.iterdir()) == []


def test_create_refuses_existing_and_open_refuses_missing(tmp_path: Path, admin: Identity) -> None:
    url = sqlite_url(tmp_path / "l.db")
    Ledger.create(url, admin=admin).close()
    before = (tmp_path / "l.db").read_bytes()
    with pytest.raises(AlreadyExists):
        Ledger.create(url, admin=admin)
    assert (tmp_path / "l.db").read_bytes() == before
    with pytest.raises(NotFound):
        Ledger.open(sqlite_url(tmp_path / "missing.db"))
    (tmp_path / "junk.db").write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(ConfigError):
        Ledger.open(sqlite_url(tmp_path / "junk.db"))


def test_blocks_cut_by_time(tmp_path: Path, admin: Identity, alice: Identity) -> None:
    ledger = Ledger.create(sqlite_url(tmp_path / "l.db", block_size=1000, block_interval=2.0), admin=admin)
    ledger.submit(admin, RoleGranted(subject=alice.address, role=Role.AUDITOR))
    assert ledger.block().height == 0  # interval not yet passed, size not reached
    time.sleep(2.1)
    ledger.submit(admin, RoleGranted(subject=alice.address, role=Role.TRAINER))
    assert ledger.block().height == 1 and ledger.block().log_size == 3
    ledger.close()


def test_two_handles_see_each_other(tmp_path: Path, admin: Identity, alice: Identity) -> None:
    url = sqlite_url(tmp_path / "l.db", block_size=3, block_interval=3600)
    first = Ledger.create(url, admin=admin)
    second = Ledger.open(url, validator=admin)
    first.submit(admin, RoleGranted(subject=alice.address, role=Role.DATA_OWNER))
    # the second handle catches up before writing: nonce and roles are current
    second.submit(alice, DatasetRegistered(dataset_id="sha256:" + "1" * 64, name="d"))
    first.submit(admin, RoleGranted(subject=alice.address, role=Role.AUDITOR))
    assert first.size == second.size == 4
    assert first.state().snapshot() == second.state().snapshot()
    assert [b.log_size for b in first.blocks()] == [1, 4]
    assert first.verify().ok
    first.close()
    second.close()


def test_appends_without_validator_key_wait_for_a_block(tmp_path: Path, admin: Identity, alice: Identity) -> None:
    url = sqlite_url(tmp_path / "l.db", block_size=1)
    Ledger.create(url, admin=admin).close()
    writer = Ledger.open(url)  # no validator key
    writer.submit(admin, RoleGranted(subject=alice.address, role=Role.AUDITOR))
    assert writer.block().log_size == 1
    with pytest.raises(ConfigError, match="validator"):
        writer.seal()
    writer.close()
    sealer = Ledger.open(url, validator=admin)
    assert sealer.seal() is not None and sealer.verify().unsealed_events == 0
    sealer.close()


def test_non_validator_cannot_cut_blocks(tmp_path: Path, admin: Identity, alice: Identity) -> None:
    url = sqlite_url(tmp_path / "l.db")
    Ledger.create(url, admin=admin).close()
    ledger = Ledger.open(url, validator=alice)
    with pytest.raises(Unauthorized):
        ledger.submit(admin, RoleGranted(subject=alice.address, role=Role.AUDITOR))
        ledger.seal()
    ledger.close()


def test_revoked_validator_blocks_fail_verify_if_forged(tmp_path: Path, admin: Identity, alice: Identity) -> None:
    """A block is only valid if its proposer held the validator role at that point of the log."""
    url = sqlite_url(tmp_path / "l.db", block_size=1000, block_interval=3600)
    ledger = Ledger.create(url, admin=admin)
    ledger.submit_batch(admin, [RoleGranted(subject=alice.address, role=Role.VALIDATOR)])
    ledger.close()
    as_alice = Ledger.open(url, validator=alice)
    assert as_alice.seal() is not None  # alice is a validator now
    assert as_alice.verify().ok
    as_alice.close()


def test_state_checkpoints_roundtrip_and_are_used(tmp_path: Path, admin: Identity) -> None:
    import sqlite3

    from ledgerml.federated.apps import run_in_process
    from ledgerml.federated.runner import FederationConfig, setup_federation
    from ledgerml.home import Home
    from ledgerml.state import decode_state, encode_state, fold
    from ledgerml.vocab.core import RoleGranted as Grant

    home = Home(tmp_path / "home")
    home.init(unencrypted=True)
    setup_federation(
        home,
        FederationConfig(task_id="cp", participants=3, rounds=2, reward_pool=300, stake=10, initial_tokens=10),
        unencrypted=True,
    )
    run_in_process(home, "cp")
    ledger = home.open_ledger()
    state = ledger.state()
    assert decode_state(encode_state(state)).tables == state.tables  # every table, key and record type
    ledger.checkpoint_every = 5  # type: ignore[attr-defined]
    ledger.submit(home.identity(), Grant(subject=admin.address, role=Role.AUDITOR))
    size = ledger.size
    ledger.close()
    conn = sqlite3.connect(home.ledger_path)
    assert conn.execute("SELECT log_size FROM checkpoints").fetchall() == [(size,)]
    conn.close()
    fresh = home.open_ledger()
    fresh._load_checkpoint()  # type: ignore[attr-defined]
    assert fresh._state_size == size  # type: ignore[attr-defined]  # starts from the checkpoint, not genesis
    assert fresh.state().snapshot() == fold([s.event for s in fresh.events()]).snapshot()
    assert fresh.verify().ok
    fresh.close()


def test_forged_checkpoint_is_caught_by_verify(tmp_path: Path, admin: Identity, alice: Identity) -> None:
    import sqlite3

    from ledgerml.state import encode_state

    url = sqlite_url(tmp_path / "l.db")
    ledger = Ledger.create(url, admin=admin)
    ledger.checkpoint_every = 1  # type: ignore[attr-defined]
    ledger.submit(admin, RoleGranted(subject=alice.address, role=Role.AUDITOR))
    forged = ledger.state()
    forged.tables["roles"][alice.address] = frozenset({Role.ADMIN})  # a checkpoint that makes alice admin
    conn = sqlite3.connect(tmp_path / "l.db")
    conn.execute("UPDATE checkpoints SET state = ?", (encode_state(forged),))
    conn.commit()
    conn.close()
    ledger.close()
    reopened = Ledger.open(url)
    report = reopened.verify()
    reopened.close()
    assert not report.ok and report.location is not None and report.location.startswith("checkpoint")


def test_backends_declare_capabilities_and_are_context_managers(tmp_path: Path, admin: Identity) -> None:
    """The written backend contract: differences declared (atomic batches: SQLite yes, EVM no), ``with`` closes."""
    from ledgerml.ledger.base import Capabilities, LedgerBackend
    from ledgerml.ledger.evm.backend import EvmLedger

    assert SqliteLedger.capabilities.atomic_batches and not EvmLedger.capabilities.atomic_batches
    assert isinstance(EvmLedger.capabilities, Capabilities)
    with Ledger.create(sqlite_url(tmp_path / "l.db"), admin=admin) as ledger:
        assert isinstance(ledger, LedgerBackend) and ledger.size == 1
    with pytest.raises(sqlite3.ProgrammingError):  # closed on leaving the block
        ledger.size  # noqa: B018
    undocumented = [
        name
        for name, member in vars(LedgerBackend).items()
        if not name.startswith("_") and callable(member) and not (member.__doc__ or "").strip()
    ]
    assert not undocumented, f"every LedgerBackend member states its guarantee: {undocumented}"
