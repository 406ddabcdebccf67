"""The SQLite ledger a block-cutting replay runs on: automatic sealing off, so only the signed policy cuts.

The replay itself is ``ledgerml.consensus.replay.replay`` (live or simulated time); it records the policy as a
``SealingPolicySet`` and then only submits events and runs the ledger's sealing timer, so every block is cut by
the ledger's own ``PolicySealer``. This module lives outside ``consensus`` because it opens a ledger.
"""

from __future__ import annotations

from pathlib import Path

from ..identity import Identity
from ..ledger.base import LedgerBackend
from ..ledger.registry import Ledger, sqlite_url
from ..types import Role
from ..vocab.core import RoleGranted

NEVER_SIZE, NEVER_INTERVAL = 1_000_000, 1e9
"""URL options that switch the ledger's size/interval sealing off (the signed policy rules once recorded)."""


def open_replay_ledger(path: Path, validator: Identity, submitter: Identity) -> LedgerBackend:
    """A new SQLite ledger with automatic sealing off and ``submitter`` a data owner."""
    ledger = Ledger.create(sqlite_url(path, block_size=NEVER_SIZE, block_interval=NEVER_INTERVAL), admin=validator)
    ledger.submit(validator, RoleGranted(subject=submitter.address, role=Role.DATA_OWNER))
    ledger.seal()
    return ledger


__all__ = ["open_replay_ledger"]
