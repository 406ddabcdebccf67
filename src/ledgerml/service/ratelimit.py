"""A token-bucket rate limit per key (plain code, clock injected)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimit:
    """At most ``rate`` actions per second per key on average, in bursts of up to ``burst``."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a rate limit needs rate > 0 and burst >= 1")
        self.rate, self.burst, self._clock = rate, burst, clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, count: int = 1) -> float:
        """Spend ``count`` actions for ``key``: 0.0 when allowed, else the seconds to wait (nothing is spent)."""
        with self._lock:
            now = self._clock()
            tokens, then = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - then) * self.rate)
            if count > self.burst:
                return (count - tokens) / self.rate
            if tokens < count:
                self._buckets[key] = (tokens, now)
                return (count - tokens) / self.rate
            self._buckets[key] = (tokens - count, now)
            return 0.0


__all__ = ["RateLimit"]
