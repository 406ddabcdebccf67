"""Time from opening a ledger to its current state, with the stored state checkpoint and without it.

Usage: python benchmarks/checkpoint.py [--events 100000]
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path

from ledgerml import DatasetRegistered, Identity, Ledger, RoleGranted, sign_event, sqlite_url
from ledgerml.types import Role


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    admin = Identity.from_private_key("admin", (2).to_bytes(32, "big"))
    owner = Identity.from_private_key("owner", (3).to_bytes(32, "big"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "l.db"
        url = sqlite_url(path, block_size=1000, block_interval=3600)
        ledger = Ledger.create(url, admin=admin)
        ledger.submit(admin, RoleGranted(subject=owner.address, role=Role.DATA_OWNER))
        done = 0
        while done < args.events:
            batch = [
                sign_event(
                    owner, ledger.ledger_id, DatasetRegistered(dataset_id=f"sha256:{done + i:064x}", name="d"), done + i
                )
                for i in range(min(5000, args.events - done))
            ]
            ledger.append_batch(batch)
            done += len(batch)
        ledger.close()

        def open_to_state() -> float:
            started = time.perf_counter()
            handle = Ledger.open(url)
            handle.state()
            handle.close()
            return time.perf_counter() - started

        with_checkpoint = min(open_to_state() for _ in range(3))
        conn = sqlite3.connect(path)
        checkpoint = conn.execute("SELECT MAX(log_size) FROM checkpoints").fetchone()[0]
        conn.execute("DELETE FROM checkpoints")
        conn.commit()
        conn.close()
        without = min(open_to_state() for _ in range(3))
    print(f"\n| events | open to state, from checkpoint at {checkpoint:,} (s) | from genesis (s) |\n|---|---|---|")
    print(f"| {args.events + 2:,} | {with_checkpoint:.2f} | {without:.2f} |")


if __name__ == "__main__":
    main()
