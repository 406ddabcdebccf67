"""The alert documents ``ledgerml alerts list|show --json`` print and the service serves (one function each)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import LedgerMLError
from .api import Alert, get_alert, list_alerts, load_explanation

if TYPE_CHECKING:
    from ..state import State
    from ..store import ArtifactStore


def alert_row(alert: Alert) -> dict[str, Any]:
    """One alert as a list row: id, detector, subject, score against threshold, decision, signer, time."""
    r = alert.record
    subject = {"type": r.subject_type, "id": r.subject_id}
    for key in ("task", "round", "first_block", "last_block"):
        if getattr(r, key) is not None:
            subject[key] = getattr(r, key)
    return {
        "id": alert.event_id,
        "detector": r.detector,
        "subject": subject,
        "score": r.score,
        "threshold": r.threshold,
        "decision": r.decision,
        "explanation_digest": r.explanation_digest,
        "actor": r.actor,
        "time": r.time,
    }


def alert_list(state: State, *, detector: str | None = None, subject_type: str | None = None) -> list[dict[str, Any]]:
    """Every alert (newest first), optionally only one detector's or one subject type's."""
    rows = [alert_row(a) for a in reversed(list_alerts(state))]
    if detector is not None:
        rows = [r for r in rows if r["detector"] == detector]
    if subject_type is not None:
        rows = [r for r in rows if r["subject"]["type"] == subject_type]
    return rows


def alert_detail(state: State, store: ArtifactStore, alert_id: str) -> dict[str, Any]:
    """One alert with its explanation document from the store (``explanation`` None and ``explanation_error``
    set when the stored document is missing or does not match its digest)."""
    alert = get_alert(state, alert_id)
    document: dict[str, Any] = {**alert_row(alert), "explanation": None, "explanation_error": None}
    try:
        document["explanation"] = load_explanation(store, alert.record)
    except LedgerMLError as exc:
        document["explanation_error"] = str(exc)
    return document


__all__ = ["alert_detail", "alert_list", "alert_row"]
