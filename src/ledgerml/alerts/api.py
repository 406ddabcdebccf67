"""Raise an alert (explanation into the artifact store, ``AlertRaised`` signed onto the ledger) and read alerts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._canonical import canonical_json
from .._json import loads_bounded
from ..errors import ConfigError, NotFound, TamperDetected
from ..events import build_payload

if TYPE_CHECKING:
    from ..identity import Identity
    from ..ledger.base import LedgerBackend
    from ..state import State
    from ..store import ArtifactStore
    from ..vocab.alerts import AlertRecord

EXPLANATION_FORMAT = "ledgerml.alert-explanation/v1"
"""The ``format`` key every stored explanation document carries."""
UNSET_DIGEST = "sha256:" + "0" * 64
MAX_EXPLANATION_BYTES = 4 << 20
"""Largest explanation document (canonical JSON) an alert may keep in the store."""


@dataclass(frozen=True, slots=True)
class AlertReceipt:
    """What ``raise_alert`` returns: the event's position and id and the stored explanation's digest."""

    seq: int
    event_id: str
    explanation_digest: str


@dataclass(frozen=True, slots=True)
class Alert:
    """A raised alert: its event id and the ledger's record of it."""

    event_id: str
    record: AlertRecord


def explanation_bytes(explanation: dict[str, Any], *, detector: str, subject: dict[str, Any]) -> bytes:
    """The canonical bytes of an explanation document (``format``, ``detector`` and ``subject`` filled in)."""
    if not isinstance(explanation, dict):
        raise ConfigError("an alert's explanation must be a JSON object")
    document = {"format": EXPLANATION_FORMAT, **explanation, "detector": detector, "subject": subject}
    data = canonical_json(document)
    if len(data) > MAX_EXPLANATION_BYTES:
        raise ConfigError(f"the explanation is {len(data):,} bytes; at most {MAX_EXPLANATION_BYTES:,} are kept")
    return data


def raise_alert(
    ledger: LedgerBackend,
    store: ArtifactStore,
    identity: Identity,
    *,
    detector: str,
    subject: dict[str, Any],
    score: float,
    threshold: float,
    decision: str,
    explanation: dict[str, Any],
) -> AlertReceipt:
    """Keep ``explanation`` in ``store`` (canonical JSON, with ``format``, ``detector`` and ``subject``) and sign
    ``AlertRaised`` as ``identity``. Payload and signer are checked before anything is stored, and a refused event
    takes back the explanation it stored: nothing changes."""
    from ..types import Digest
    from ..vocab.alerts import AlertRaised, check_may_raise_alerts

    fields: dict[str, Any] = dict(
        detector=detector, subject=subject, score=score, threshold=threshold, decision=decision
    )
    checked = build_payload(AlertRaised, **fields, explanation_digest=UNSET_DIGEST)
    data = explanation_bytes(explanation, detector=detector, subject=checked.subject.model_dump(mode="json"))
    digest = str(Digest.sha256(data))
    payload = checked.model_copy(update={"explanation_digest": digest})
    check_may_raise_alerts(ledger.state(), identity.address)
    existed = store.has(digest)
    store.put(data)
    try:
        receipt = ledger.submit(identity, payload)
    except BaseException:
        if not existed:
            store.delete(digest)
        raise
    return AlertReceipt(receipt.seq, receipt.event_id, digest)


def list_alerts(state: State) -> list[Alert]:
    """Every alert on the ledger, oldest first."""
    from ..vocab.alerts import alerts_of

    return [Alert(event_id, record) for event_id, record in alerts_of(state)]


def get_alert(state: State, alert_id: str) -> Alert:
    """The alert with event id ``alert_id`` (or a unique prefix of at least 8 hex digits); ``NotFound`` otherwise."""
    rows = state.rows("alerts")
    if alert_id in rows:
        return Alert(alert_id, rows[alert_id])
    wanted = alert_id.lower().removeprefix("sha256:")
    if len(wanted) >= 8:
        found = [key for key in rows if str(key).removeprefix("sha256:").startswith(wanted)]
        if len(found) == 1:
            return Alert(found[0], rows[found[0]])
    raise NotFound(f"no alert {alert_id!r} on this ledger (see 'ledgerml alerts list')")


def load_explanation(store: ArtifactStore, record: AlertRecord) -> dict[str, Any]:
    """The alert's explanation document from the store (its digest is checked on read)."""
    if not store.has(record.explanation_digest):
        raise NotFound(f"the explanation {record.explanation_digest} is not in the artifact store")
    document = loads_bounded(store.get(record.explanation_digest), what="explanation", error=TamperDetected)
    if not isinstance(document, dict):
        raise TamperDetected(f"the explanation {record.explanation_digest} is not a JSON object")
    return document


__all__ = ["Alert", "AlertReceipt", "explanation_bytes", "get_alert", "list_alerts", "load_explanation", "raise_alert"]
