"""Write latency across state checkpoints: writer threads sharing one ledger whose state holds 100k records.

Usage: python benchmarks/checkpoint_stall.py [--records 100000] [--threads 4] [--events 6000] [--every 2000]
                                             [--baseline-src PATH]

Builds a ledger of ``--records`` DatasetRegistered events (one state record each), then runs ``--threads`` threads
that ``submit`` single events to the same open ledger (as the service's request threads do) with a checkpoint due
every ``--every`` events, and reports each submit's latency. With ``--baseline-src`` (a ``src`` folder of another
ledgerml version, e.g. ``git archive <rev> src``) the same run is repeated on a copy of the ledger with that code, in
a separate process, and both rows are printed side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any


def _ids() -> tuple[Any, Any]:
    from ledgerml import Identity

    return Identity.from_private_key("admin", (2).to_bytes(32, "big")), Identity.from_private_key(
        "owner", (3).to_bytes(32, "big")
    )


def build(path: Path, records: int) -> None:
    """A ledger of ``records`` dataset registrations, sealed, its last checkpoint at the end."""
    from ledgerml import DatasetRegistered, Ledger, RoleGranted, sign_event, sqlite_url
    from ledgerml.types import Role

    admin, owner = _ids()
    ledger = Ledger.create(sqlite_url(path, block_size=1000, block_interval=3600), admin=admin)
    ledger.submit(admin, RoleGranted(subject=owner.address, role=Role.DATA_OWNER))
    done = 0
    while done < records:
        count = min(5000, records - done)
        base = ledger.next_nonce(owner.address)
        payloads = [DatasetRegistered(dataset_id=f"sha256:{done + i:064x}", name=f"d{i}") for i in range(count)]
        ledger.append_batch([sign_event(owner, ledger.ledger_id, p, base + i) for i, p in enumerate(payloads)])
        done += count
    ledger.seal()
    ledger.close()


def run(path: Path, threads: int, events: int, every: int) -> dict[str, float]:
    """Latencies (seconds) of ``events`` single submits from ``threads`` threads on one open ledger."""
    from ledgerml import DatasetRegistered, Ledger, sqlite_url

    _admin, owner = _ids()
    ledger = Ledger.open(sqlite_url(path, block_size=1000, block_interval=3600), validator=_admin)
    ledger.state()
    ledger.checkpoint_every = every  # type: ignore[attr-defined]
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(events))

    def writer() -> None:
        for i in counter:
            start = time.perf_counter()
            ledger.submit(owner, DatasetRegistered(dataset_id=f"sha256:{10**9 + i:064x}", name=f"w{i}"))
            with lock:
                latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    pool = [threading.Thread(target=writer) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    wall = time.perf_counter() - start
    ledger.close()
    latencies.sort()
    return {
        "submits": len(latencies),
        "per_s": len(latencies) / wall,
        "median_ms": 1e3 * statistics.median(latencies),
        "p99_ms": 1e3 * latencies[int(0.99 * (len(latencies) - 1))],
        "max_ms": 1e3 * latencies[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--events", type=int, default=6000)
    parser.add_argument("--every", type=int, default=2000)
    parser.add_argument("--baseline-src", default=None)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run(Path(args.child), args.threads, args.events, args.every)))
        return
    rows: list[tuple[str, dict[str, float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "l.db"
        build(path, args.records)
        variants = [("this tree", None)] + ([("baseline", args.baseline_src)] if args.baseline_src else [])
        for name, src in variants:
            copy = Path(tmp) / f"{name.replace(' ', '-')}.db"
            shutil.copy(path, copy)
            env = dict(os.environ, **({"PYTHONPATH": src} if src else {}))
            cmd = [sys.executable, __file__, "--child", str(copy), "--threads", str(args.threads)]
            cmd += ["--events", str(args.events), "--every", str(args.every)]
            out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
            rows.append((name, json.loads(out.strip().splitlines()[-1])))
    print(f"\nstate of {args.records:,} records, {args.threads} writer threads, checkpoint every {args.every:,} events")
    print("\n| code | submits | submits/s | median (ms) | p99 (ms) | max (ms) |\n|---|---|---|---|---|---|")
    for name, r in rows:
        print(
            f"| {name} | {r['submits']:,} | {r['per_s']:,.0f} | {r['median_ms']:.1f} | {r['p99_ms']:.1f} | "
            f"{r['max_ms']:,.0f} |"
        )


if __name__ == "__main__":
    main()
