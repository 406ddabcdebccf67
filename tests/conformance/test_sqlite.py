"""The conformance suite against the embedded SQLite backend."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from ledgerml import Identity, Ledger, LedgerBackend, sqlite_url
from ledgerml.ledger.blocks import sign_block
from ledgerml.ledger.sqlite import SqliteLedger

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
                forged = sign_block(
                    admin,
                    ledger=ledger.ledger_id,
                    height=last.height,
                    prev_hash=last.prev_hash,
                    log_size=last.log_size,
                    log_root=last.log_root,
                    time=previous.time - 1,
                )
                conn.execute(
                    "UPDATE blocks SET time = ?, hash = ?, signature = ? WHERE height = ?",
                    (forged.time, forged.hash, forged.signature, last.height),
                )
            conn.commit()
        finally:
            conn.close()
