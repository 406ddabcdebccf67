"""The whole-ledger verify report of a home: the ledger's own audit, whose ledger it is, and its anchors.

``ledgerml verify`` and the service's ``GET /api/verify`` both call :func:`verify_home`, so they report the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import NotFound
from .home import Home
from .ledger.base import LedgerBackend, VerifyReport
from .state import ledger_info
from .types import Address, to_address

NO_ANCHORS_NOTE = (
    "no chain was asked for anchors: the validator key could rewrite this history undetected "
    "(pass --anchors-from evm+http://… where heads were anchored)"
)
NO_ANCHORS_BUT_WITNESSES_NOTE = (
    "no chain was asked for anchors; the witnesses' cosigned checkpoints below are what would catch a rewrite"
)


def expected_creators(home: Home, trust: list[str] | None) -> tuple[set[Address], str]:
    """The addresses the genesis admin must be one of, and where that expectation comes from."""
    if trust:
        return {to_address(a) for a in trust}, "--trust"
    try:
        return {home.keys.info(home.config().admin).address}, "the home's admin key"
    except NotFound:
        return set(), ""


def check_identity(ledger: LedgerBackend, creators: set[Address], source: str, ledger_id: str | None) -> str | None:
    """The problem with the ledger's identity (id, genesis admin), or None when it is the ledger expected."""
    if ledger_id is not None and ledger.ledger_id != ledger_id.lower():
        return f"the ledger's id is {ledger.ledger_id}, not the expected {ledger_id}"
    info = ledger_info(ledger.state())
    if creators and (info is None or info.creator not in creators):
        creator = info.creator if info else "nobody"
        return f"the ledger was created by {creator}, not by {source} ({', '.join(sorted(creators))})"
    return None


def verify_home(
    home: Home,
    ledger: LedgerBackend,
    *,
    trust: list[str] | None = None,
    ledger_id: str | None = None,
    anchors_from: str | None = None,
    anchors_since: int = 0,
    progress: Callable[[int, int], None] | None = None,
    witnesses: int | None = None,
) -> VerifyReport:
    """Audit ``ledger`` (the ledger of ``home``), check whose ledger it is (``trust``, else the home's admin key),
    the anchored heads (``anchors.jsonl``, plus those found on ``anchors_from``) and, with ``witnesses`` K, the
    checkpoints trusted witnesses cosigned (at least K of them at or beyond the newest block)."""
    from .anchor import check_anchors, discover_anchors, load_anchors

    trusted = _trusted_witnesses(home, witnesses)
    creators, source = expected_creators(home, trust)
    report = ledger.verify(progress=progress)
    identity_problem = check_identity(ledger, creators, source, ledger_id) if report.ok else None
    if identity_problem:
        report.ok, report.location, report.problem = False, "genesis", identity_problem
    skipped: list[str] = []
    anchors = load_anchors(home.path / "anchors.jsonl", skipped)
    report.notes += [f"{line}: skipped; 'verify --anchors-from' finds anchors on the chain itself" for line in skipped]
    if anchors_from is not None:
        known = {a.transaction for a in anchors}
        anchors += [
            a for a in discover_anchors(ledger, anchors_from, since=anchors_since) if a.transaction not in known
        ]
    anchor_problems = check_anchors(ledger, anchors) if report.ok else []
    if anchors_from is not None:
        report.notes.append(f"{len(anchors)} anchor(s) found on {anchors_from} and in anchors.jsonl")
    elif report.ok:
        report.notes.append(NO_ANCHORS_NOTE if witnesses is None else NO_ANCHORS_BUT_WITNESSES_NOTE)
    if anchors:
        report.notes.append(
            f"{len(anchors)} anchor(s) checked against the chain"
            if not anchor_problems
            else f"{len(anchor_problems)} anchor problem(s)"
        )
    if anchor_problems:
        report.ok, report.location, report.problem = False, "anchors", "; ".join(anchor_problems)
    if witnesses is not None and report.ok:
        _check_witnesses(home, ledger, report, trusted, witnesses)
    return report


def _trusted_witnesses(home: Home, k: int | None) -> list[Any]:
    """The home's trusted witnesses when ``--witnesses K`` is asked (``ConfigError`` if K exceeds them)."""
    if k is None:
        return []
    from .witness.home import trusted_witnesses
    from .witness.verify import check_k

    trusted = trusted_witnesses(home)
    check_k(k, trusted)
    return trusted


def _check_witnesses(home: Home, ledger: LedgerBackend, report: VerifyReport, trusted: list[Any], k: int) -> None:
    """Fail ``report`` on a block history that contradicts a cosigned checkpoint, or is not cosigned by K."""
    from .types import Role
    from .vocab.core import holders_of
    from .witness.home import cosigned_notes, load_log_key
    from .witness.verify import check_binding, check_witnessed

    found = check_witnessed(ledger.ledger_id, list(ledger.blocks()), cosigned_notes(home), trusted, k)
    key = load_log_key(home)
    if not found.problem and key is not None:
        validators: set[str] = set(holders_of(ledger.state(), Role.VALIDATOR))
        found.problem = check_binding(ledger.ledger_id, str(key.vkey), key.binding, validators)
    if found.problem:
        report.ok, report.location, report.problem = False, "witnesses", found.problem
        return
    sizes = ", ".join(f"{name} at {size}" for name, size in sorted(found.newest.items()))
    report.notes.append(f"{found.checked} witness cosignature(s) checked; newest cosigned sizes: {sizes}")


__all__ = ["NO_ANCHORS_NOTE", "check_identity", "expected_creators", "verify_home"]
