"""``SqliteLedger.append_many`` (group commit): one transaction, each event judged on its own, exactly as one
``append`` after another would judge it."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerml import DatasetRegistered, Ledger, RoleGranted, sign_event, sqlite_url
from ledgerml.errors import StorageError
from ledgerml.events import Event, now_ms
from ledgerml.identity import Identity
from ledgerml.ledger.base import Receipt
from ledgerml.ledger.sqlite import SqliteLedger
from ledgerml.types import Role

from ..conftest import make_identity

ADMIN, OWNER, STRANGER = make_identity("admin", 11), make_identity("owner", 12), make_identity("stranger", 13)
OPS = ("good", "good", "good", "replay", "gap", "forged", "wrong_ledger", "unknown_kind", "no_role", "duplicate")


def _base(folder: Path) -> Path:
    """A closed ledger file (blocks of 3) where OWNER may register datasets and STRANGER has no role."""
    path = folder / "base.db"
    url = sqlite_url(path, block_size=3, block_interval=3600)
    with Ledger.create(url, admin=ADMIN) as ledger:
        ledger.submit(ADMIN, RoleGranted(subject=OWNER.address, role=Role.DATA_OWNER))
    return path


def _open(path: Path) -> SqliteLedger:
    return SqliteLedger.open(path, validator=ADMIN, block_size=3, block_interval=3600)


def _sign(who: Identity, ledger_id: str, i: int, nonce: int, at: int, kind: str = "DatasetRegistered") -> Event:
    payload = DatasetRegistered(dataset_id=f"sha256:{i:064x}", name=f"d{i}")
    event = sign_event(who, ledger_id, payload, nonce, time_ms=at + i)
    if kind == "DatasetRegistered":
        return event
    fields: dict[str, Any] = {k: getattr(event, k) for k in ("ledger", "actor", "nonce", "time", "payload")}
    unsigned = Event(kind=kind, **fields)
    return Event(kind=kind, signature=who.sign_digest(unsigned.digest), **fields)


def _events(plan: list[str], ledger_id: str) -> list[Event]:
    """Signed events following ``plan`` (OWNER's nonces counted as if every 'good' one lands)."""
    # One time base per plan: twin ledgers get byte-identical events, and the events are never older than the
    # ledger they go to (a time fixed at import went stale when xdist ran the test minutes later).
    nonce, events, at = 0, [], now_ms()
    for i, op in enumerate(plan):
        if op == "good":
            events.append(_sign(OWNER, ledger_id, i, nonce, at))
            nonce += 1
        elif op == "replay":
            events.append(_sign(OWNER, ledger_id, i, max(nonce - 1, 0), at))
        elif op == "gap":
            events.append(_sign(OWNER, ledger_id, i, nonce + 2, at))
        elif op == "forged":
            signed = _sign(OWNER, ledger_id, i, nonce, at)
            events.append(Event(**{**_fields(signed), "payload": {**signed.payload, "name": "changed"}}))
        elif op == "wrong_ledger":
            events.append(_sign(OWNER, "ab" * 16, i, nonce, at))
        elif op == "unknown_kind":
            events.append(_sign(OWNER, ledger_id, i, nonce, at, kind="NoSuchKind"))
        elif op == "no_role":
            events.append(_sign(STRANGER, ledger_id, i, 0, at))
        elif events:  # duplicate: the previous event again
            events.append(events[-1])
    return events


def _fields(event: Event) -> dict[str, Any]:
    return {k: getattr(event, k) for k in ("ledger", "kind", "actor", "nonce", "time", "payload", "signature")}


def _outcome(result: Receipt | Exception) -> tuple[str, Any]:
    if isinstance(result, Receipt):
        return "ok", (result.seq, result.event_id)
    return type(result).__name__, str(result)


def _one_by_one(ledger: SqliteLedger, events: list[Event]) -> list[tuple[str, Any]]:
    outcomes = []
    for event in events:
        try:
            outcomes.append(_outcome(ledger.append(event)))
        except Exception as exc:
            outcomes.append(_outcome(exc))
    return outcomes


def _stored(ledger: SqliteLedger) -> tuple[list[bytes], list[int], str]:
    return [s.event.body for s in ledger.events()], [b.log_size for b in ledger.blocks()], ledger.state().digest()


@settings(max_examples=15)
@given(st.lists(st.sampled_from(OPS), min_size=1, max_size=12))
def test_append_many_judges_each_event_as_one_append_after_another(plan: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        base = _base(Path(folder))
        shutil.copy(base, Path(folder) / "twin.db")
        grouped, single = _open(base), _open(Path(folder) / "twin.db")
        try:
            events = _events(plan, grouped.ledger_id)
            together = [_outcome(r) for r in grouped.append_many(events)]
            apart = _one_by_one(single, events)
            assert together == apart
            assert _stored(grouped) == _stored(single)
            assert grouped.verify().ok
        finally:
            grouped.close()
            single.close()


def test_bad_events_among_good_ones_leave_nothing_and_the_good_ones_land(tmp_path: Path) -> None:
    # Prepare
    ledger = _open(_base(tmp_path))
    events = _events(["good", "forged", "good", "gap", "replay", "good", "no_role"], ledger.ledger_id)
    before = ledger.size
    # Execute
    results = ledger.append_many(events)
    # Assert
    names = [type(r).__name__ for r in results]
    assert names == ["Receipt", "SignerMismatch", "Receipt", "NonceGap", "ReplayedNonce", "Receipt", "Unauthorized"]
    assert [r.seq for r in results if isinstance(r, Receipt)] == [before, before + 1, before + 2]
    assert ledger.size == before + 3 and ledger.next_nonce(OWNER.address) == 3
    assert ledger.next_nonce(STRANGER.address) == 0
    ledger.close()


def test_a_failed_commit_lands_none_and_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Prepare
    ledger = _open(_base(tmp_path))
    events = _events(["good", "good"], ledger.ledger_id)
    before = _stored(ledger)
    real = ledger._conn

    class FullDisk:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def executemany(self, *args: Any) -> Any:
            raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(ledger, "_conn", FullDisk())
    # Execute
    with pytest.raises(StorageError):
        ledger.append_many(events)
    monkeypatch.undo()
    # Assert: file and memory unchanged, and the same events land afterwards
    assert _stored(ledger) == before
    assert all(isinstance(r, Receipt) for r in ledger.append_many(events))
    ledger.close()


def test_an_empty_group_writes_nothing(tmp_path: Path) -> None:
    ledger = _open(_base(tmp_path))
    size = ledger.size
    assert ledger.append_many([]) == [] and ledger.size == size
    ledger.close()
