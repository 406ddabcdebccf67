"""A round's commitments are appended in one batch (one transaction, one state-machine pass); if the batch
is refused, one by one, so that one bad commitment never costs the others theirs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ledgerml.errors import InvalidTransition
from ledgerml.federated.apps import run_in_process
from ledgerml.federated.audit import audit_task
from ledgerml.federated.runner import FederationConfig, round_history, setup_federation
from ledgerml.home import Home
from ledgerml.ledger.sqlite import SqliteLedger


@pytest.fixture
def home(tmp_path: Path) -> Home:
    target = Home(tmp_path / "home")
    target.init(unencrypted=True)
    setup_federation(target, FederationConfig(task_id="b", participants=3, rounds=2), unencrypted=True)
    return target


def _batches(monkeypatch: pytest.MonkeyPatch, refuse: bool = False) -> list[list[str]]:
    """Record the kinds in every append_batch; with ``refuse``, refuse batches of commitments."""
    seen: list[list[str]] = []
    original = SqliteLedger.append_batch

    def spy(self: SqliteLedger, events: Any) -> Any:
        kinds = [e.kind for e in events]
        seen.append(kinds)
        if refuse and kinds and set(kinds) == {"UpdateCommitted"}:
            raise InvalidTransition("refused for the test")
        return original(self, events)

    monkeypatch.setattr(SqliteLedger, "append_batch", spy)
    return seen


def test_a_rounds_commitments_are_one_batch(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _batches(monkeypatch)
    run_in_process(home, "b")
    assert [k for k in seen if "UpdateCommitted" in k] == [["UpdateCommitted"] * 3] * 2
    assert [(r["status"], len(r["accepted"])) for r in round_history(home, "b")] == [("ok", 3)] * 2


def test_a_refused_batch_falls_back_to_one_by_one(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _batches(monkeypatch, refuse=True)
    run_in_process(home, "b")
    assert len([k for k in seen if "UpdateCommitted" in k]) == 2  # tried, refused, then appended singly
    assert [(r["status"], len(r["accepted"]), r["invalid"]) for r in round_history(home, "b")] == [("ok", 3, [])] * 2
    with home.open_ledger(as_validator=False) as ledger:
        assert audit_task(ledger, home.store(), "b").ok
