"""What every request handler shares: the home, its open ledger, the token store, limits and settings."""

from __future__ import annotations

from dataclasses import dataclass

from ..home import Home
from ..ledger.base import LedgerBackend
from .auth import TokenStore
from .ratelimit import RateLimit

MAX_EVENT_BODY = 64 * 1024
"""Largest ``POST /api/events`` body: one signed event (events are at most 16 KiB; the rest is slack for
whitespace)."""
MAX_BATCH_BODY = 8 * 1024 * 1024
"""Largest ``POST /api/events/batch`` body."""
MAX_BATCH_EVENTS = 1000
"""Most events one batch request carries."""


@dataclass(frozen=True)
class ServiceSettings:
    """How the service limits writers: per token, ``write_rate`` write requests per second in bursts of
    ``write_burst``."""

    write_rate: float = 50.0
    write_burst: int = 100


class Service:
    """What every request handler shares: the home, its open ledger, the token store, the write limit."""

    def __init__(self, home: Home, ledger: LedgerBackend, tokens: TokenStore, settings: ServiceSettings) -> None:
        self.home, self.ledger, self.tokens, self.settings = home, ledger, tokens, settings
        self.writes = RateLimit(settings.write_rate, settings.write_burst)


def token_store(home: Home) -> TokenStore:
    """The home's token store, ``HOME/service/tokens.json``."""
    return TokenStore(home.path / "service" / "tokens.json")


__all__ = ["MAX_BATCH_BODY", "MAX_BATCH_EVENTS", "MAX_EVENT_BODY", "Service", "ServiceSettings", "token_store"]
