"""Arrival traces for block-cutting replays: groups of events released at one time, in milliseconds."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from pathlib import Path

from .._csv import csv_records
from .._files import read_bounded
from ..errors import ConfigError

MAX_TRACE_BYTES = 64 << 20


@dataclass(frozen=True)
class Trace:
    """``releases``: sorted ``(time_ms, events)`` pairs; the events of one pair are submitted back to back."""

    name: str
    releases: tuple[tuple[float, int], ...]

    @property
    def events(self) -> int:
        """How many events the trace submits."""
        return sum(count for _, count in self.releases)


def mainnet_trace(path: Path, *, thin: int = 1, limit: int | None = None, skip: int = 0) -> Trace:
    """Mainnet blocks (``number,timestamp,transactions,...``): each block's transactions (divided by ``thin``)
    are released at its timestamp, as an indexer ingesting the chain would submit them; ``skip`` leaves out the
    first blocks (a calibration slice and a different report slice of one file)."""
    if thin < 1 or (limit is not None and limit < 1) or skip < 0:
        raise ConfigError(f"thin and limit must be at least 1 and skip at least 0, got {thin}, {limit} and {skip}")
    text = read_bounded(path, MAX_TRACE_BYTES).decode("utf-8-sig", errors="replace")
    header, rows = csv_records(text, str(path))
    if not rows or not {"timestamp", "transactions"} <= set(header):
        raise ConfigError(f"{path}: expected a CSV with timestamp and transactions columns")
    try:
        end = None if limit is None else skip + limit
        pairs = [(int(row["timestamp"]), int(row["transactions"])) for row in rows[skip:end]]
    except ValueError:
        raise ConfigError(f"{path}: timestamp and transactions must be integers") from None
    if any(b[0] < a[0] for a, b in itertools.pairwise(pairs)) or any(n < 0 for _, n in pairs):
        raise ConfigError(f"{path}: timestamps must not decrease and counts must not be negative")
    if not pairs:
        raise ConfigError(f"{path}: no blocks to replay")
    start = pairs[0][0]
    name = path.name if not skip else f"{path.name} from block {skip}"
    return Trace(name, tuple(((t - start) * 1000.0, n // thin) for t, n in pairs if n // thin))


def onoff_trace(
    *, seed: int = 0, bursts: int = 60, mean_burst: int = 40, burst_gap_ms: float = 20.0, quiet_ms: float = 30_000.0
) -> Trace:
    """A federated-round-like workload: bursts of single events (commits of one round, mean ``mean_burst``,
    exponential gaps of mean ``burst_gap_ms``) separated by exponential quiet periods of mean ``quiet_ms``."""
    rng = random.Random(seed)
    now, releases = 0.0, []
    for _ in range(bursts):
        for _ in range(max(1, int(rng.expovariate(1.0 / mean_burst)))):
            releases.append((now, 1))
            now += rng.expovariate(1.0 / burst_gap_ms)
        now += rng.expovariate(1.0 / quiet_ms)
    return Trace(f"on-off (seed {seed})", tuple(releases))
