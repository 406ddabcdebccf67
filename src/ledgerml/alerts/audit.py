"""Re-derive an alert from stored data and its registered model or rule: the explanation names its ``method``;
that method's re-deriver recomputes score, threshold, decision and the whole explanation, which must hash to the
digest the signed ``AlertRaised`` carries."""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import LedgerMLError, TamperDetected
from .api import explanation_bytes, get_alert, load_explanation

if TYPE_CHECKING:
    from ..state import State
    from ..store import ArtifactStore
    from ..vocab.alerts import AlertRecord

REDERIVERS: dict[str, str] = {
    "chainwatch": "ledgerml.alerts.chain:rederive",
    "fraud.treeshap": "ledgerml.alerts.fraud:rederive",
    "federation.screening": "ledgerml.federated.screening_alerts:rederive",
    "scenario.rejected_update": "ledgerml.scenarios.security_alerts:rederive",
}
"""``explanation["method"]`` -> ``"module:function"`` re-deriving it, imported on first use. A function takes an
``AuditContext`` and the stored explanation and returns a ``Rederived``."""
SCORE_TOLERANCE = 1e-9
"""Relative difference allowed between a recorded and a re-derived score (the same code on other hardware)."""


class AlertMismatch(TamperDetected):
    """An alert does not re-derive as recorded."""

    exit_code = 36


@dataclass(frozen=True)
class AuditContext:
    """What a re-deriver may read: the ledger's state, the artifact store, and the home (models are loaded from it)."""

    state: State
    store: ArtifactStore
    home: Any = None
    detector: str | None = None
    """The detector the alert names (a re-deriver re-derives with the very detector the alert was raised by)."""


@dataclass(frozen=True)
class Rederived:
    """A re-derivation's result: what the alert should say."""

    score: float
    threshold: float
    decision: str
    explanation: dict[str, Any]


@dataclass
class AlertAudit:
    """The outcome of re-deriving one alert."""

    alert_id: str
    method: str | None
    ok: bool = True
    checks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON data for ``audit alert --json``."""
        return {
            "alert": self.alert_id,
            "method": self.method,
            "ok": self.ok,
            "checks": self.checks,
            "problems": self.problems,
        }


def rederiver(method: str) -> Callable[[AuditContext, dict[str, Any]], Rederived] | None:
    """The re-deriver registered for ``method``, or None."""
    target = REDERIVERS.get(method)
    if target is None:
        return None
    module, _, name = target.partition(":")
    function: Callable[[AuditContext, dict[str, Any]], Rederived] = getattr(importlib.import_module(module), name)
    return function


def _compare(record: AlertRecord, again: Rederived, audit: AlertAudit) -> None:
    """Score, threshold, decision and explanation digest of ``again`` against the signed record."""
    from ..types import Digest

    for what, recorded, derived in (
        ("score", record.score, again.score),
        ("threshold", record.threshold, again.threshold),
    ):
        if math.isclose(recorded, derived, rel_tol=SCORE_TOLERANCE, abs_tol=SCORE_TOLERANCE):
            audit.checks.append(f"{what} {derived:.6g} re-derived")
        else:
            audit.problems.append(f"{what} re-derives as {derived!r}, the alert says {recorded!r}")
    if again.decision != record.decision:
        audit.problems.append(f"decision re-derives as {again.decision!r}, the alert says {record.decision!r}")
    subject = load_subject(record)
    data = explanation_bytes(again.explanation, detector=record.detector, subject=subject)
    if str(Digest.sha256(data)) == record.explanation_digest:
        audit.checks.append("explanation re-derived byte for byte")
    else:
        audit.problems.append("the re-derived explanation differs from the stored one")


def load_subject(record: AlertRecord) -> dict[str, Any]:
    """The alert's subject as the payload carried it."""
    return {
        "type": record.subject_type,
        "id": record.subject_id,
        "task": record.task,
        "round": record.round,
        "first_block": record.first_block,
        "last_block": record.last_block,
    }


def audit_alert(state: State, store: ArtifactStore, alert_id: str, *, home: Any = None) -> AlertAudit:
    """Re-derive the alert ``alert_id``; the result lists what matched and every problem (``ok`` False)."""
    alert = get_alert(state, alert_id)
    record = alert.record
    audit = AlertAudit(alert.event_id, None)
    try:
        explanation = load_explanation(store, record)
    except LedgerMLError as exc:
        audit.problems.append(str(exc))
        audit.ok = False
        return audit
    audit.checks.append(f"explanation {record.explanation_digest} read from the store (digest checked)")
    method = explanation.get("method")
    audit.method = method if isinstance(method, str) else None
    function = rederiver(audit.method) if audit.method else None
    if function is None:
        audit.problems.append(f"no re-deriver for method {method!r}: the alert cannot be re-derived")
    else:
        try:
            _compare(record, function(AuditContext(state, store, home, record.detector), explanation), audit)
        except LedgerMLError as exc:
            audit.problems.append(f"cannot re-derive: {exc}")
    audit.ok = not audit.problems
    return audit


__all__ = ["REDERIVERS", "AlertAudit", "AlertMismatch", "AuditContext", "Rederived", "audit_alert", "rederiver"]
