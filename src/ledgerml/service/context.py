"""What every request handler shares: the home, its open ledger, the token store, limits and settings."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

from ..home import Home
from ..ledger.base import LedgerBackend
from .auth import TokenStore
from .groupcommit import GroupCommit
from .ratelimit import RateLimit
from .sealing import SealTimer

MAX_EVENT_BODY = 64 * 1024
"""Largest ``POST /api/events`` body: one signed event (events are at most 16 KiB; the rest is slack for
whitespace)."""
MAX_BATCH_BODY = 8 * 1024 * 1024
"""Largest ``POST /api/events/batch`` body."""
MAX_BATCH_EVENTS = 1000
"""Most events one batch request carries."""


@dataclass(frozen=True)
class ServiceSettings:
    """How the service limits writers and who may read without a token.

    Per token (or, for a signed write sent without one, per client address), ``write_rate`` write requests per
    second in bursts of ``write_burst``. Unless ``private``, what an outsider needs to check the log - the head,
    signed block headers, inclusion and consistency proofs, the ``verify`` report, nonces - is readable without a
    token (as a transparency log's are), and a signed event may be posted without one: its signature is its
    authentication and the state machine decides. Everything else (event listings, tasks, models, datasets) always
    needs a token; ``private`` makes every request need one.
    """

    write_rate: float = 50.0
    write_burst: int = 100
    private: bool = False


class Service:
    """What every request handler shares: the home, its open ledger (``ledger`` for writes, ``reader`` for reads:
    a second connection to a SQLite file, so reads do not queue behind a write's commit), tokens, the write limit."""

    def __init__(
        self,
        home: Home,
        ledger: LedgerBackend,
        tokens: TokenStore,
        settings: ServiceSettings,
        reader: LedgerBackend | None = None,
        *,
        owned: bool = False,
    ) -> None:
        self.home, self.ledger, self.tokens, self.settings = home, ledger, tokens, settings
        self.reader = reader if reader is not None else ledger
        self.owned = owned
        self.writes = RateLimit(settings.write_rate, settings.write_burst)
        self.appends = GroupCommit(ledger)
        """Single-event posts, appended together when they arrive together (one transaction per group)."""
        self.seal_timer = SealTimer(ledger)
        if owned:  # a ledger the caller passed is the caller's to seal
            self.seal_timer.start()

    def audited(self) -> AbstractContextManager[LedgerBackend]:
        """A ledger for a whole-ledger audit: a fresh read-only open of the home's ledger (as ``ledgerml verify``
        opens it, and so no other request waits for the audit), or the given ledger when the app was handed one."""
        if self.owned:
            return self.home.open_ledger(as_validator=False)
        return nullcontext(self.reader)

    def close(self) -> None:
        """Finish queued appends, stop the sealing timer and close the ledgers this service opened."""
        self.appends.close()
        self.seal_timer.stop()
        if self.owned:
            self.ledger.close()
            if self.reader is not self.ledger:
                self.reader.close()


def token_store(home: Home) -> TokenStore:
    """The home's token store, ``HOME/service/tokens.json``."""
    return TokenStore(home.path / "service" / "tokens.json")


__all__ = ["MAX_BATCH_BODY", "MAX_BATCH_EVENTS", "MAX_EVENT_BODY", "Service", "ServiceSettings", "token_store"]
