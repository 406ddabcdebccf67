"""Conformance step of the alerts vocabulary: the admin raises an alert; a trainer and an outsider cannot."""

from __future__ import annotations

import pytest

from ledgerml.errors import MalformedEvent, Unauthorized
from ledgerml.events import build_payload
from ledgerml.vocab.alerts import AlertRaised, alerts_of

from ...conftest import make_identity

KINDS = ("AlertRaised",)
EXPLANATION = "sha256:" + "e1" * 32


def run(ledger, cast) -> None:  # type: ignore[no-untyped-def]
    """A block-range alert signed by the admin is listed; bob (a trainer) and an outsider are refused."""
    alert = AlertRaised(
        detector="chainwatch.flood",
        subject={"type": "block_range", "id": "100-104", "first_block": 100, "last_block": 104},
        score=7.5,
        threshold=4.0,
        decision="alert",
        explanation_digest=EXPLANATION,
    )
    before = len(alerts_of(ledger.state()))
    receipt = ledger.submit(cast.admin, alert)
    listed = alerts_of(ledger.state())
    assert len(listed) == before + 1 and listed[-1][0] == receipt.event_id
    record = listed[-1][1]
    assert (record.subject_type, record.first_block, record.last_block) == ("block_range", 100, 104)
    assert record.actor == cast.admin.address and record.explanation_digest == EXPLANATION
    with pytest.raises(Unauthorized):
        ledger.submit(cast.bob, alert)
    with pytest.raises(Unauthorized):
        ledger.submit(make_identity("outsider-alert", 7401), alert)
    with pytest.raises(MalformedEvent):
        build_payload(AlertRaised, **{**alert.model_dump(mode="json"), "score": float("nan")})
