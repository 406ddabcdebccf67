"""Grant expiry as users write it: a duration from now (``90m``, ``12h``, ``30d``) or an ISO 8601 date or time."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from ..errors import ConfigError

_DURATION = re.compile(r"^([1-9][0-9]{0,6})([mhd])$")
_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}


def parse_expiry(text: str, now_ms: int) -> int:
    """The expiry time in UNIX milliseconds; ``ConfigError`` for anything else or for a time not after ``now_ms``."""
    value = text.strip()
    match = _DURATION.match(value)
    if match:
        return now_ms + int(match.group(1)) * _UNIT_MS[match.group(2)]
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(
            f"--expires {text[:40]!r}: give a duration (90m, 12h, 30d) or an ISO 8601 time (2027-01-31T12:00:00Z)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    expires = int(parsed.timestamp() * 1000)
    if expires <= now_ms:
        raise ConfigError(f"--expires {text[:40]!r} is in the past")
    return expires


__all__ = ["parse_expiry"]
