"""What ``Home.open_ledger`` costs per open, with the validator check and without it, alone and followed by
``ledger.state()`` (CPU time, medians, the four variants interleaved in one process), and the replay it does.

Usage: python benchmarks/open_ledger.py HOME [--opens 20]   (HOME: e.g. one made by 'ledgerml demo --home HOME')
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import time
from collections.abc import Callable
from typing import Any

from ledgerml.events import parse_event
from ledgerml.home import Home
from ledgerml.ledger.replay import fast_event
from ledgerml.state import State, apply


def _one_open(home: Home, check: bool, use_state: bool) -> float:
    """CPU seconds of one open (and ``state()`` if asked), with or without the validator check."""
    original = Home._check_validator
    if not check:
        Home._check_validator = lambda self, ledger, address: None  # type: ignore[method-assign]
    try:
        started = time.process_time()
        ledger = home.open_ledger()
        if use_state:
            ledger.state()
        ledger.close()
        return time.process_time() - started
    finally:
        Home._check_validator = original  # type: ignore[method-assign]


def _replay(bodies: list[bytes], parse: Callable[[bytes], Any]) -> float:
    """CPU seconds to fold every stored body into a fresh state (signatures not checked, as a catch-up does)."""
    started = time.process_time()
    state = State()
    for body in bodies:
        apply(state, parse(body), check_signature=False)
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("home")
    parser.add_argument("--opens", type=int, default=20)
    args = parser.parse_args()
    home = Home(args.home)
    variants = [(check, use_state) for use_state in (False, True) for check in (True, False)]
    times: dict[tuple[bool, bool], list[float]] = {v: [] for v in variants}
    _one_open(home, True, True)  # warm: imports, page cache
    for _ in range(args.opens):
        for variant in variants:
            times[variant].append(_one_open(home, *variant))
    with sqlite3.connect(home.path / "ledger.db") as conn:
        bodies = [bytes(row[0]) for row in conn.execute("SELECT body FROM events ORDER BY seq")]
    print(f"{len(bodies)} events; {args.opens} opens per variant; load average {os.getloadavg()}")
    print("| open, then | with the check (ms CPU) | without (ms CPU) |\n|---|---|---|")
    for use_state in (False, True):
        row = [statistics.median(times[(check, use_state)]) * 1000 for check in (True, False)]
        print(f"| {'state()' if use_state else 'nothing'} | {row[0]:.1f} | {row[1]:.1f} |")
    for name, parse in (("parse_event", parse_event), ("fast_event", lambda b: fast_event(b) or parse_event(b))):
        best = min(_replay(bodies, parse) for _ in range(5))
        print(f"replay with {name}: {best * 1000:.1f} ms CPU ({best / max(len(bodies), 1) * 1e6:.0f} us/event)")


if __name__ == "__main__":
    main()
