"""The conformance suite against the embedded SQLite backend."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from ledgerml import Identity, Ledger, LedgerBackend, sqlite_url
from ledgerml.ledger.sqlite import SqliteLedger

from .scenario import backdated_copy
from .suite import BLOCK_SIZE, LedgerConformance


class TestSqliteConformance(LedgerConformance):
    def make_ledger(self, tmp_path: Path, admin: Identity) -> LedgerBackend:
        return Ledger.create(
            sqlite_url(tmp_path / "ledger.db", block_size=BLOCK_SIZE, block_interval=3600),
            admin=admin,
            name="conformance",
        )

    def raw_snapshot(self, ledger: LedgerBackend) -> Any:
        assert isinstance(ledger, SqliteLedger)
        conn = sqlite3.connect(ledger.path)
        try:
            return list(conn.iterdump())
        finally:
            conn.close()

    def forge_block(self, ledger: LedgerBackend, admin: Identity, forgery: str) -> None:
        """Edit the latest block's stored row, as tests/test_tamper.py does."""
        assert isinstance(ledger, SqliteLedger)
        last, previous = ledger.block(), ledger.block(ledger.block().height - 1)
        conn = sqlite3.connect(ledger.path)
        try:
            if forgery == "wrong_height":
                conn.execute("UPDATE blocks SET height = ? WHERE height = ?", (last.height + 5, last.height))
            else:
                forged = backdated_copy(last, previous, admin)
                conn.execute(
                    "UPDATE blocks SET time = ?, hash = ?, signature = ? WHERE height = ?",
                    (forged.time, forged.hash, forged.signature, last.height),
                )
            conn.commit()
        finally:
            conn.close()
