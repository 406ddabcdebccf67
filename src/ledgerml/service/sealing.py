"""The service's sealing timer: on an embedded ledger under a signed sealing policy, seal what the policy says is
due even when no further write arrives (the ledger itself cuts blocks only inside a write)."""

from __future__ import annotations

import logging
import threading
from typing import Any

from ..consensus.sealer import wall_clock_ms

log = logging.getLogger("ledgerml.service")

IDLE_POLL_S = 1.0
"""How often the timer asks again while nothing is pending or no policy is signed."""


def seconds_until(due_ms: float | None, now_ms: float) -> float:
    """How long to sleep before the next look: until ``due_ms`` (at once if past), else ``IDLE_POLL_S``."""
    if due_ms is None:
        return IDLE_POLL_S
    return min(IDLE_POLL_S, max(0.0, (due_ms - now_ms) / 1000.0))


class SealTimer:
    """A daemon thread calling ``ledger.seal_due()`` when ``ledger.next_seal_ms()`` comes (SQLite ledgers only)."""

    def __init__(self, ledger: Any) -> None:
        self.ledger = ledger
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def applies(ledger: Any) -> bool:
        """Whether ``ledger`` has a policy timer (the embedded ledger opened with the validator key)."""
        return callable(getattr(ledger, "seal_due", None)) and callable(getattr(ledger, "next_seal_ms", None))

    def start(self) -> None:
        """Start the thread if the ledger has a policy timer."""
        if self.applies(self.ledger) and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="ledgerml-seal-timer", daemon=True)
            self._thread.start()

    def _clock_ms(self) -> float:
        """The clock the ledger's sealer keeps time by (the wall clock while it has none)."""
        sealer = getattr(self.ledger, "sealer", None)
        return float(sealer.clock()) if sealer is not None else wall_clock_ms()

    def _run(self) -> None:
        due = self._next()
        while not self._stop.wait(seconds_until(due, self._clock_ms())):
            due = self._next()
            if due is not None and due <= self._clock_ms():
                try:
                    self.ledger.seal_due()
                except Exception as exc:  # a full disk or a closed ledger must not kill the service
                    log.warning("sealing timer: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
                due = self._next()

    def _next(self) -> float | None:
        try:
            due = self.ledger.next_seal_ms()
        except Exception:  # the ledger is closing
            return None
        return None if due is None else float(due)

    def stop(self) -> None:
        """Stop the thread and wait for it (before the ledger is closed)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
