"""The long reports the service serves: ``verify --json`` (whole-ledger audit) and ``audit task --json``."""

from __future__ import annotations

from typing import Any

from ..errors import NotFound
from ..home import Home
from ..ledger.base import LedgerBackend, VerifyReport
from ..state import ledger_info
from ..types import Address


def _creators(home: Home) -> tuple[set[Address], str]:
    try:
        return {home.keys.info(home.config().admin).address}, "the home's admin key"
    except NotFound:
        return set(), ""


def verify_report(home: Home, ledger: LedgerBackend) -> VerifyReport:
    """What ``ledgerml verify --home HOME --json`` reports (no ``--trust``/``--anchors-from``): the ledger's audit,
    whose ledger it is (the home's admin key), and the anchors recorded in ``anchors.jsonl``."""
    from ..anchor import check_anchors, load_anchors

    report = ledger.verify()
    creators, source = _creators(home)
    if report.ok:
        info = ledger_info(ledger.state())
        if creators and (info is None or info.creator not in creators):
            creator = info.creator if info else "nobody"
            report.ok, report.location = False, "genesis"
            report.problem = f"the ledger was created by {creator}, not by {source} ({', '.join(sorted(creators))})"
    anchors = load_anchors(home.path / "anchors.jsonl")
    anchor_problems = check_anchors(ledger, anchors) if report.ok else []
    if report.ok:
        report.notes.append(
            "no chain was asked for anchors: the validator key could rewrite this history undetected "
            "(pass --anchors-from evm+http://… where heads were anchored)"
        )
    if anchors:
        report.notes.append(
            f"{len(anchors)} anchor(s) checked against the chain"
            if not anchor_problems
            else f"{len(anchor_problems)} anchor problem(s)"
        )
    if anchor_problems:
        report.ok, report.location, report.problem = False, "anchors", "; ".join(anchor_problems)
    return report


def verify_document(home: Home, ledger: LedgerBackend) -> dict[str, Any]:
    """``ledgerml verify --json``'s document."""
    return verify_report(home, ledger).to_dict()


def audit_document(home: Home, task_id: str) -> dict[str, Any]:
    """``ledgerml audit task TASK --json``'s document (the round replay, and rewards where the task pays them)."""
    from ..federated.workflow import audit_federation

    return audit_federation(home, task_id).to_dict()


__all__ = ["audit_document", "verify_document", "verify_report"]
