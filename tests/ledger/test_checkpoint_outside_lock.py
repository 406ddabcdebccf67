"""State checkpoints are encoded after the write transaction, outside every lock, and still land (crash-safe)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from ledgerml import DatasetRegistered, Ledger, RoleGranted, sqlite_url
from ledgerml.ledger import sqlite as sqlite_backend
from ledgerml.state import encode_state
from ledgerml.types import Role

from ..conftest import make_identity

ADMIN, OWNER = make_identity("admin", 1), make_identity("owner", 2)


def _payload(i: int) -> DatasetRegistered:
    return DatasetRegistered(dataset_id=f"sha256:{i:064x}", name=f"d{i}")


def _ledger(path: Path) -> Ledger:
    ledger = Ledger.create(sqlite_url(path), admin=ADMIN)
    ledger.submit(ADMIN, RoleGranted(subject=OWNER.address, role=Role.DATA_OWNER))
    ledger.checkpoint_every = 3  # type: ignore[attr-defined]
    return ledger


def _stored(path: Path) -> list[tuple[int, bytes]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT log_size, state FROM checkpoints").fetchall()


def test_the_writer_encodes_a_small_checkpoint_after_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "l.db"
    ledger = _ledger(path)
    free: list[bool] = []

    def encode_and_probe(state):  # type: ignore[no-untyped-def]
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # 'database is locked' if still inside the writer's transaction
            other.execute("ROLLBACK")
            free.append(True)
        finally:
            other.close()
        return encode_state(state)

    monkeypatch.setattr(sqlite_backend, "encode_state", encode_and_probe)
    for i in range(4):
        ledger.submit(OWNER, _payload(i))
    expected = (ledger.size, encode_state(ledger.state()))
    ledger.close()
    assert free == [True, True]  # checkpoints due at sizes 3 and 6, both encoded with the file free
    assert _stored(path) == [expected]
    with Ledger.open(sqlite_url(path)) as reopened:
        assert reopened.verify().ok


def test_a_large_checkpoint_is_encoded_in_the_background(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "l.db"
    ledger = _ledger(path)
    released, seen = threading.Event(), []

    def slow_encode(state):  # type: ignore[no-untyped-def]
        seen.append(released.wait(30))  # set only once the submit that made the checkpoint due has returned
        return encode_state(state)

    monkeypatch.setattr(sqlite_backend, "encode_state", slow_encode)
    monkeypatch.setattr(sqlite_backend, "BACKGROUND_CHECKPOINT_ROWS", 0)
    ledger.submit(OWNER, _payload(0))  # size 3: a checkpoint is due
    expected = (ledger.size, encode_state(ledger.state()))
    released.set()
    ledger.close()  # joins the checkpoint thread
    assert seen == [True] and _stored(path) == [expected]


def test_a_checkpoint_that_cannot_be_stored_loses_no_event(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "l.db"
    ledger = Ledger.create(sqlite_url(path), admin=ADMIN)
    ledger.submit(ADMIN, RoleGranted(subject=OWNER.address, role=Role.DATA_OWNER))
    ledger.checkpoint_every = 1  # type: ignore[attr-defined]

    monkeypatch.setattr(sqlite_backend, "encode_state", lambda state: b"{}")
    monkeypatch.setattr(ledger, "_conn", _FailingInsert(ledger._conn))  # type: ignore[attr-defined]
    receipt = ledger.submit(OWNER, _payload(1))
    ledger.close()
    with Ledger.open(sqlite_url(path)) as reopened:
        assert reopened.get_event(receipt.seq).event.id == receipt.event_id
        assert reopened.verify().ok


class _FailingInsert:
    """A connection whose checkpoint INSERT fails as a full or locked disk would."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        if sql.startswith("INSERT INTO checkpoints"):
            raise sqlite3.OperationalError("database or disk is full")
        return self._conn.execute(sql, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self._conn, name)
