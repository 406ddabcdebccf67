"""Helpers shared by the data and model command groups."""

from __future__ import annotations

from ..ledger.base import LedgerBackend


def seal_if_possible(ledger: LedgerBackend) -> None:
    """Cut a block over the new events when this process holds the validator key, so proofs exist at once."""
    if ledger.validator is not None:
        ledger.seal()
