"""Witness-cosigned checkpoints: cosigning latency per checkpoint with 3 witnesses on loopback (each witness its
own ``ledgerml witness serve`` process), and the cost of ``verify --witnesses 3`` beside plain ``verify`` on the
same ledger in the same run.

Usage: nice python benchmarks/witness.py [--events 100000] [--checkpoints 30]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ledgerml import DatasetRegistered, Identity, RoleGranted, sign_event
from ledgerml.home import Home
from ledgerml.types import Role
from ledgerml.verification import verify_home
from ledgerml.witness.home import publish, trust_witness

OUT = Path(__file__).parent / "results" / "witness.json"


def start_witnesses(folder: Path, count: int) -> tuple[list[subprocess.Popen[str]], list[str]]:
    """``count`` witness processes on free loopback ports, and their URLs."""
    processes, urls = [], []
    for i in range(count):
        command = [sys.executable, "-m", "ledgerml", "witness", "serve", "--home", str(folder / f"w{i}")]
        process = subprocess.Popen([*command, "--port", "0", "--json"], stdout=subprocess.PIPE, text=True)
        assert process.stdout is not None
        urls.append(json.loads(process.stdout.readline())["url"])
        processes.append(process)
    return processes, urls


def grow(home: Home, owner: Identity, start: int, count: int) -> None:
    """Append ``count`` dataset registrations by ``owner`` in batches of 5,000, then seal."""
    with home.open_ledger() as ledger:
        done = 0
        while done < count:
            batch = [
                sign_event(
                    owner,
                    ledger.ledger_id,
                    DatasetRegistered(dataset_id=f"sha256:{start + i:064x}", name="d"),
                    start + i,
                )
                for i in range(done, min(done + 5000, count))
            ]
            ledger.append_batch(batch)
            done += len(batch)
        ledger.seal()


def latency(home: Home, owner: Identity, first: int, rounds: int) -> list[float]:
    """Seconds per ``publish`` (sign, 3 add-checkpoint round trips with proofs, atomic store), one per new head."""
    seconds = []
    for r in range(rounds):
        grow(home, owner, first + 10 * r, 10)
        with home.open_ledger() as ledger:
            started = time.perf_counter()
            result = publish(home, ledger)
            seconds.append(time.perf_counter() - started)
        assert len(result.cosigned_by) == 3, result.failed
    return seconds


def timed_verify(home: Home, witnesses: int | None) -> float:
    """Seconds for one whole-home verify (with ``witnesses`` K, or plain)."""
    with home.open_ledger(as_validator=False) as ledger:
        started = time.perf_counter()
        report = verify_home(home, ledger, witnesses=witnesses)
        elapsed = time.perf_counter() - started
    assert report.ok, report.problem
    return elapsed


def witness_check_alone(home: Home, runs: int = 5) -> float:
    """Seconds for what ``--witnesses 3`` adds to the audit: every stored cosignature checked against the blocks."""
    from ledgerml.witness.home import cosigned_notes, trusted_witnesses
    from ledgerml.witness.verify import check_witnessed

    best = float("inf")
    with home.open_ledger(as_validator=False) as ledger:
        for _ in range(runs):
            started = time.perf_counter()
            notes, trusted = cosigned_notes(home), trusted_witnesses(home)
            found = check_witnessed(ledger.ledger_id, list(ledger.blocks()), notes, trusted, 3)
            best = min(best, time.perf_counter() - started)
            assert found.problem is None, found.problem
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--checkpoints", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=1, help="verify runs of each kind, alternated")
    args = parser.parse_args()
    owner = Identity.from_private_key("owner", (3).to_bytes(32, "big"))
    with tempfile.TemporaryDirectory() as tmp:
        home = Home(Path(tmp) / "home")
        home.init(unencrypted=True, block_size=1000, block_interval=3600)
        processes, urls = start_witnesses(Path(tmp), 3)
        try:
            with home.open_ledger() as ledger:
                ledger.submit(home.identity(), RoleGranted(subject=owner.address, role=Role.DATA_OWNER))
                for url in urls:
                    trust_witness(home, ledger, url)
            seconds = latency(home, owner, 0, args.checkpoints)
            built = time.perf_counter()
            grow(home, owner, 10 * args.checkpoints, args.events - 10 * args.checkpoints)
            built = time.perf_counter() - built
            with home.open_ledger() as ledger:
                publish(home, ledger)
                size = ledger.size
            alone = witness_check_alone(home)
            plain, witnessed = [], []
            for _ in range(args.repeats):  # alternated, same ledger, same run
                plain.append(timed_verify(home, None))
                witnessed.append(timed_verify(home, 3))
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
    ms = sorted(s * 1000 for s in seconds)
    result = {
        "witnesses": 3,
        "checkpoints": len(ms),
        "publish_ms_median": statistics.median(ms),
        "publish_ms_p90": ms[int(0.9 * (len(ms) - 1))],
        "publish_ms_max": ms[-1],
        "events": size,
        "verify_s": min(plain),
        "verify_witnesses_s": min(witnessed),
        "witness_check_alone_s": alone,
        "build_s": built,
        "cpus": len(os.sched_getaffinity(0)),
    }
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print("\n| witnesses | checkpoints | publish median (ms) | p90 (ms) | max (ms) |\n|---|---|---|---|---|")
    print(f"| 3 | {len(ms)} | {result['publish_ms_median']:.1f} | {result['publish_ms_p90']:.1f} | {ms[-1]:.1f} |")
    print("\n| events | verify (s) | verify --witnesses 3 (s) | the witness check alone (ms) |\n|---|---|---|---|")
    print(f"| {size:,} | {min(plain):.2f} | {min(witnessed):.2f} | {1000 * alone:.1f} |")


if __name__ == "__main__":
    main()
