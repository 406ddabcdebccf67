"""Budget-matched comparisons of block-cutting results: which fixed setting a row is measured against, and which
fixed intervals to run so that one cuts about as many blocks as the row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, TypeVar


class Measured(Protocol):
    """What a comparison reads of a replay result."""

    @property
    def blocks(self) -> int: ...

    @property
    def p99_ms(self) -> float: ...


R = TypeVar("R", bound=Measured)


def rival(result: Measured, fixed: Sequence[R], slack: float = 0.1) -> R | None:
    """The budget-matched fixed setting: the lowest p99 among those cutting at least as many blocks as ``result``
    and at most ``slack`` more; if none is that close, the one with the fewest blocks above (more blocks than
    ``result``: favours fixed); None if none cuts as many."""
    rivals = [f for f in fixed if f.blocks >= result.blocks]
    close = [f for f in rivals if f.blocks <= result.blocks * (1 + slack)]
    if close:
        return min(close, key=lambda f: (f.p99_ms, f.blocks))
    return min(rivals, key=lambda f: (f.blocks, f.p99_ms)) if rivals else None


def cheaper(result: Measured, fixed: Sequence[R]) -> R | None:
    """The lowest-p99 fixed setting cutting at most as many blocks as ``result`` (None if every one cuts more)."""
    below = [f for f in fixed if f.blocks <= result.blocks]
    return min(below, key=lambda f: (f.p99_ms, -f.blocks)) if below else None


def bracketing(target: int, counts: Mapping[float, int], neighbours: int = 1) -> list[float]:
    """The intervals (keys of ``counts``, interval -> blocks it cut) that bracket ``target`` blocks: the longest
    interval cutting at least ``target`` and the next longer one, plus ``neighbours`` more on each side."""
    if neighbours < 0:
        raise ValueError(f"neighbours must be at least 0, got {neighbours}")
    intervals = sorted(counts)
    if not intervals:
        return []
    at_least = [i for i, interval in enumerate(intervals) if counts[interval] >= target]
    low = at_least[-1] if at_least else -1  # -1: even the shortest interval cuts fewer than target
    first, last = max(low - neighbours, 0), min(low + 1 + neighbours, len(intervals) - 1)
    return intervals[first : last + 1]


__all__ = ["bracketing", "cheaper", "rival"]
