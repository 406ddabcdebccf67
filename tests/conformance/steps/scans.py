"""Conformance step of the scans vocabulary: a participant records a contract scan; an outsider cannot."""

from __future__ import annotations

import pytest

from ledgerml.errors import Unauthorized
from ledgerml.vocab.scans import ScanRecorded, scans_of

from ...conftest import make_identity

KINDS = ("ScanRecorded",)
CONTRACTS = "sha256:" + "c0" * 32
FINDINGS = "sha256:" + "f1" * 32


def run(ledger, cast) -> None:  # type: ignore[no-untyped-def]
    """Record a scan signed by the admin; refuse one from an identity that holds no role."""
    report = ScanRecorded(
        contracts_digest=CONTRACTS,
        findings_digest=FINDINGS,
        model_id=None,
        files=3,
        findings=2,
        errors=1,
        detectors=["ledgerml-rules", "ledgerml-model"],
    )
    receipt = ledger.submit(cast.admin, report)
    recorded = scans_of(ledger.state(), CONTRACTS)
    assert [event_id for event_id, _ in recorded] == [receipt.event_id]
    assert recorded[0][1].findings == 2 and recorded[0][1].actor == cast.admin.address
    with pytest.raises(Unauthorized):
        ledger.submit(make_identity("outsider-scan", 7301), report)
