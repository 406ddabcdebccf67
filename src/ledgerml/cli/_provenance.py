"""Helpers shared by the data, model and fraud command groups: sealing, checking ids."""

from __future__ import annotations

import re

from ..errors import NotFound
from ..ledger.base import LedgerBackend


def seal_if_possible(ledger: LedgerBackend) -> None:
    """Seal a block over the new events when this process holds the validator key, so proofs exist at once."""
    if ledger.validator is not None:
        ledger.seal()


_ID = re.compile(r"sha256:[0-9a-f]{64}")


def check_id(value: str, what: str) -> str:
    """A dataset or model id as given; ``NotFound`` (quoting at most 80 characters of it) if it cannot be one."""
    if not _ID.fullmatch(value):
        shown = value if len(value) <= 80 else value[:80] + "…"
        raise NotFound(f"{what} {shown!r} is not registered: ids are 'sha256:' and 64 lowercase hex digits")
    return value
