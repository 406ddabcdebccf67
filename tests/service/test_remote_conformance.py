"""The conformance suite through the service: RemoteLedger over HTTP in front of a SQLite ledger.

The same scenarios and rejections as every backend, sent as signed events over the API (an admin token, no rate
limit) and read back over it; storage checks and forgeries act on the SQLite file behind the service.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledgerml import Identity, Ledger, LedgerBackend, sqlite_url
from ledgerml.home import Home
from ledgerml.ledger.remote import RemoteLedger
from ledgerml.service.app import create_app
from ledgerml.service.context import ServiceSettings, token_store

from ..conformance.suite import BLOCK_SIZE, LedgerConformance
from ..conformance.test_sqlite import TestSqliteConformance as _Sqlite

pytestmark = pytest.mark.slow  # the whole suite, 67 cases over HTTP in process: about 15-30 s


class _Served(RemoteLedger):
    """A RemoteLedger that also stops the in-process service and closes the ledger behind it."""

    behind: LedgerBackend
    client: TestClient

    def close(self) -> None:
        super().close()
        self.client.__exit__(None, None, None)
        self.behind.close()


class TestRemoteConformance(LedgerConformance):
    def make_ledger(self, tmp_path: Path, admin: Identity) -> LedgerBackend:
        url = sqlite_url(tmp_path / "ledger.db", block_size=BLOCK_SIZE, block_interval=3600)
        behind = Ledger.create(url, admin=admin, name="conformance")
        home = Home(tmp_path / "service-home")
        token, _ = token_store(home).create("suite", "admin")
        settings = ServiceSettings(write_rate=1e9, write_burst=10**9)
        client = TestClient(create_app(home, behind, settings))
        client.__enter__()
        served = _Served("http://testserver", token, client=client)
        served.behind, served.client = behind, client
        return served

    def raw_snapshot(self, ledger: LedgerBackend) -> Any:
        assert isinstance(ledger, _Served)
        return _Sqlite.raw_snapshot(self, ledger.behind)  # type: ignore[arg-type]

    def forge_block(self, ledger: LedgerBackend, admin: Identity, forgery: str) -> None:
        assert isinstance(ledger, _Served)
        _Sqlite.forge_block(self, ledger.behind, admin, forgery)  # type: ignore[arg-type]
