"""One-core verify against the signature-recovery bound, this tree beside a baseline source tree, in one run.

Usage: python benchmarks/verify_ab.py --baseline-src /tmp/h2-before/src [--sizes 20000,50000] [--rounds 3]
The ledgers are built once (with this tree) and verified by both trees, each round in a fresh process per tree,
alternating. Inside a process the bound (``recover_signer`` on 3,000 signatures, the call verify makes) and a
full one-core ``verify()`` alternate ``--reps`` times; the minimum CPU time of each is kept (the least disturbed
by other load), and the share is bound time per recovery / verify time per event. The raw C recovery
(``secp256k1_ecdsa_recover`` alone on pre-parsed signatures and pre-hashed messages, no Python around it: the
machine's floor) is timed beside it and its share printed too; the bound is the first share. Prints a Markdown
table with the load average, writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CHILD = r"""
import hashlib, os, sys, time
sys.path.insert(0, sys.argv[1])
os.environ["LEDGERML_VERIFY_WORKERS"] = "0"
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
import ledgerml
from ledgerml import Identity, Ledger, recover_signer, sqlite_url
assert ledgerml.__file__.startswith(sys.argv[1]), ledgerml.__file__
key = Identity.from_private_key("bound", (7).to_bytes(32, "big"))
digests = [hashlib.sha256(str(i).encode()).digest() for i in range(3000)]
signatures = [key.sign_digest(d) for d in digests]
def bound():
    getattr(ledgerml.identity, "_RECOVERED", {}).clear()  # each pass recovers (older trees have no cache)
    start = time.process_time()
    for d, s in zip(digests, signatures):
        recover_signer(d, s)
    return (time.process_time() - start) / len(digests)
from coincurve import _libsecp256k1 as c
from coincurve.context import GLOBAL_CONTEXT
from ledgerml.identity import eip191_hash
messages = [eip191_hash(d) for d in digests]
parsed = []
for s in signatures:
    sig = c.ffi.new("secp256k1_ecdsa_recoverable_signature *")
    assert c.lib.secp256k1_ecdsa_recoverable_signature_parse_compact(GLOBAL_CONTEXT.ctx, sig, s[:64], s[64] - 27)
    parsed.append(sig)
def raw():
    ctx, recover, key = GLOBAL_CONTEXT.ctx, c.lib.secp256k1_ecdsa_recover, c.ffi.new("secp256k1_pubkey *")
    start = time.process_time()
    for m, sig in zip(messages, parsed):
        recover(ctx, key, sig, m)
    return (time.process_time() - start) / len(messages)
ledger = Ledger.open(sqlite_url(sys.argv[2]))
first = ledger.verify()
assert first.ok, first
bounds, raws, verifies = [], [], []
for _ in range(int(sys.argv[3])):
    bounds.append(bound())
    raws.append(raw())
    start = time.process_time()
    report = ledger.verify()
    verifies.append((time.process_time() - start) / report.events_checked)
    assert report.ok and report.state_digest == first.state_digest
print(min(bounds), min(verifies), report.events_checked, report.state_digest, min(raws))
"""


def run_child(src: str, path: Path, reps: int) -> dict[str, Any]:
    """One process of ``src`` verifying ``path``: min CPU seconds per recovery and per verified event."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, src, str(path), str(reps)], check=True, capture_output=True, text=True
    ).stdout.split()
    return {
        "bound_s": float(out[0]),
        "verify_s": float(out[1]),
        "events": int(out[2]),
        "digest": out[3],
        "raw_s": float(out[4]),
    }


def build(folder: Path, size: int) -> Path:
    """A ledger of ``size`` events as ``benchmarks/ledger.py`` grows it (DatasetRegistered, blocks of 1,000)."""
    sys.path.insert(0, str(HERE))
    import ledger as bench  # benchmarks/ledger.py

    ledger = bench.new_ledger(folder, f"ab-{size}.db", "normal", block_size=1000)
    bench.grow(ledger, size, [0])
    ledger.close()
    return folder / f"ab-{size}.db"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline-src", required=True, help="a src/ folder holding the baseline ledgerml")
    parser.add_argument("--sizes", default="20000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", default=str(HERE / "results" / "verify_ab.json"))
    args = parser.parse_args()
    trees = {"this tree": str(HERE.parent / "src"), "baseline": str(Path(args.baseline_src).resolve())}
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            path = build(Path(tmp), size)
            runs: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
            for _ in range(args.rounds):
                for name, src in trees.items():
                    runs[name].append(run_child(src, path, args.reps))
            digests = {run["digest"] for found in runs.values() for run in found}
            assert len(digests) == 1, f"the trees disagree on the state digest: {digests}"
            for name, found in runs.items():
                rows.append(summary(name, size, found))
    print_table(rows)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=2))


def summary(name: str, size: int, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The best of a tree's runs, and every run's share."""
    shares = [run["bound_s"] / run["verify_s"] for run in runs]
    raw_shares = [run["raw_s"] / run["verify_s"] for run in runs]
    return {
        "code": name,
        "events": size,
        "verify_us_per_event": 1e6 * min(run["verify_s"] for run in runs),
        "bound_us_per_recovery": 1e6 * min(run["bound_s"] for run in runs),
        "shares": shares,
        "median_share": statistics.median(shares),
        "raw_us_per_recovery": 1e6 * min(run["raw_s"] for run in runs),
        "raw_shares": raw_shares,
        "median_raw_share": statistics.median(raw_shares),
        "load_average_1min": os.getloadavg()[0],
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    print(
        "\n| code | events | verify, CPU us/event (best) | events per CPU s | bound, CPU us/recovery (best) "
        "| share of the bound: median (each run) | C recovery alone, CPU us (best) | share of the C recovery: "
        "median (each run) | load average |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        each = ", ".join(f"{100 * s:.0f}%" for s in r["shares"])
        raw_each = ", ".join(f"{100 * s:.0f}%" for s in r["raw_shares"])
        print(
            f"| {r['code']} | {r['events']:,} | {r['verify_us_per_event']:.1f} | {1e6 / r['verify_us_per_event']:,.0f} "
            f"| {r['bound_us_per_recovery']:.1f} | {100 * r['median_share']:.0f}% ({each}) "
            f"| {r['raw_us_per_recovery']:.1f} | {100 * r['median_raw_share']:.0f}% ({raw_each}) "
            f"| {r['load_average_1min']:.1f} |"
        )


if __name__ == "__main__":
    main()
