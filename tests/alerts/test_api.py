"""raise_alert: the explanation lands in the store, the signed AlertRaised on the ledger with an inclusion proof;
refusals change nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledgerml import Identity
from ledgerml.alerts import get_alert, list_alerts, load_explanation, raise_alert
from ledgerml.alerts.documents import alert_detail, alert_list
from ledgerml.errors import ConfigError, MalformedEvent, NotFound, TamperDetected, Unauthorized
from ledgerml.ledger.proofs import verify_inclusion_proof
from ledgerml.ledger.sqlite import SqliteLedger
from ledgerml.store import LocalStore

SUBJECT = {"type": "account", "id": "0x" + "ab" * 20}


def _raise(ledger: SqliteLedger, store: LocalStore, who: Identity, **changes: object):  # type: ignore[no-untyped-def]
    fields: dict = dict(
        detector="rule.test",
        subject=SUBJECT,
        score=3.5,
        threshold=2.0,
        decision="alert",
        explanation={"method": "rule", "fired": "score above threshold", "values": [1, 2.5]},
    )
    return raise_alert(ledger, store, who, **{**fields, **changes})


def test_alert_is_signed_included_and_explained(sqlite_ledger: SqliteLedger, admin: Identity, tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    receipt = _raise(sqlite_ledger, store, admin)
    sqlite_ledger.seal()
    event = verify_inclusion_proof(sqlite_ledger.inclusion_proof(receipt.event_id), [admin.address])
    assert event.kind == "AlertRaised" and event.actor == admin.address
    assert event.payload["explanation_digest"] == receipt.explanation_digest
    alert = get_alert(sqlite_ledger.state(), receipt.event_id[:20])
    assert alert.event_id == receipt.event_id and alert.record.score == 3.5
    explanation = load_explanation(store, alert.record)
    assert explanation["fired"] == "score above threshold"
    assert explanation["detector"] == "rule.test" and explanation["subject"]["id"] == SUBJECT["id"]
    assert [a.event_id for a in list_alerts(sqlite_ledger.state())] == [receipt.event_id]
    detail = alert_detail(sqlite_ledger.state(), store, receipt.event_id)
    assert detail["explanation"] == explanation and detail["explanation_error"] is None
    assert alert_list(sqlite_ledger.state())[0]["subject"] == SUBJECT


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"score": float("nan")}, MalformedEvent),
        ({"decision": "panic"}, MalformedEvent),
        ({"subject": {"type": "planet", "id": "x"}}, MalformedEvent),
        ({"subject": {"type": "block_range", "id": "5-3", "first_block": 5, "last_block": 3}}, MalformedEvent),
        ({"explanation": ["not", "an", "object"]}, ConfigError),
        ({"explanation": {"x": float("inf")}}, MalformedEvent),
    ],
)
def test_bad_alerts_change_nothing(
    sqlite_ledger: SqliteLedger, admin: Identity, tmp_path: Path, changes: dict, error: type[Exception]
) -> None:
    store = LocalStore(tmp_path / "store")
    size = sqlite_ledger.size
    with pytest.raises(error) as caught:
        _raise(sqlite_ledger, store, admin, **changes)
    assert "\n" not in str(caught.value)
    assert sqlite_ledger.size == size and store.list() == []


def test_an_outsider_may_not_raise_alerts(sqlite_ledger: SqliteLedger, alice: Identity, tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    size = sqlite_ledger.size
    with pytest.raises(Unauthorized):
        _raise(sqlite_ledger, store, alice)
    assert sqlite_ledger.size == size and store.list() == []


def test_a_changed_explanation_is_caught(sqlite_ledger: SqliteLedger, admin: Identity, tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    receipt = _raise(sqlite_ledger, store, admin)
    store.path_of(receipt.explanation_digest).write_bytes(b'{"method":"rule","fired":"nothing"}')
    record = get_alert(sqlite_ledger.state(), receipt.event_id).record
    with pytest.raises(TamperDetected):
        load_explanation(store, record)
    assert "corrupted" in alert_detail(sqlite_ledger.state(), store, receipt.event_id)["explanation_error"]
    with pytest.raises(NotFound):
        get_alert(sqlite_ledger.state(), "sha256:00")
