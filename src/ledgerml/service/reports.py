"""The long reports the service serves: ``verify --json`` (whole-ledger audit) and ``audit task --json``."""

from __future__ import annotations

from typing import Any

from ..home import Home
from ..ledger.base import LedgerBackend, VerifyReport


def verify_report(home: Home, ledger: LedgerBackend) -> VerifyReport:
    """What ``ledgerml verify --home HOME --json`` reports (no ``--trust``/``--anchors-from``)."""
    from ..verification import verify_home

    return verify_home(home, ledger)


def verify_document(home: Home, ledger: LedgerBackend) -> dict[str, Any]:
    """``ledgerml verify --json``'s document."""
    return verify_report(home, ledger).to_dict()


def audit_document(home: Home, task_id: str) -> dict[str, Any]:
    """``ledgerml audit task TASK --json``'s document (the round replay, and rewards where the task pays them)."""
    from ..federated.workflow import audit_federation

    return audit_federation(home, task_id).to_dict()


__all__ = ["audit_document", "verify_document", "verify_report"]
