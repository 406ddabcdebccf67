"""Benchmark the embedded ledger: signature bound, appends, full verify, proofs at 10k / 100k / 1M events.

Usage: python benchmarks/ledger.py [--sizes 10000,100000,1000000] [--out benchmarks/results/ledger.json]
Pinned to one core, except the two-core verify (signature recovery in a worker process, the state replay
sequential in the auditor: ``ledger.signatures``). The bound (``recover_signer`` calls/s on one core, by wall clock
and by CPU time) and the verifies alternate three times per size and the best of each is kept (the run least
disturbed by other load), with the load average beside; the C recovery alone (``secp256k1_ecdsa_recover``, no
Python around it) is timed beside the bound and verify's share of it printed too.
``benchmarks/verify_ab.py`` compares with older code. Prints Markdown tables (for docs/benchmarks.md), writes JSON.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ledgerml import (
    DatasetRegistered,
    Identity,
    Ledger,
    RoleGranted,
    recover_signer,
    sign_event,
    sqlite_url,
    verify_consistency_proof,
    verify_inclusion_proof,
)
from ledgerml.identity import _RECOVERED
from ledgerml.ledger.merkle import verify_consistency, verify_inclusion
from ledgerml.ledger.sqlite import SqliteLedger
from ledgerml.types import Role


def ident(name: str, seed: int) -> Identity:
    return Identity.from_private_key(name, (seed + 1).to_bytes(32, "big"))


ADMIN, OWNER = ident("admin", 1), ident("owner", 2)


def payload(i: int) -> DatasetRegistered:
    return DatasetRegistered(dataset_id=f"sha256:{i:064x}", name=f"dataset {i}", license="CC-BY-4.0")


def new_ledger(folder: Path, name: str, synchronous: str, block_size: int = 1000) -> SqliteLedger:
    ledger = Ledger.create(
        sqlite_url(folder / name, synchronous=synchronous, block_size=block_size, block_interval=3600), admin=ADMIN
    )
    ledger.submit(ADMIN, RoleGranted(subject=OWNER.address, role=Role.DATA_OWNER))
    assert isinstance(ledger, SqliteLedger)
    return ledger


def bench_recover(n: int = 20000, clock: Any = time.perf_counter) -> float:
    """``recover_signer`` calls per second on one core (the bound on verify), timed by ``clock``."""
    digests = [hashlib.sha256(str(i).encode()).digest() for i in range(n)]
    sigs = [OWNER.sign_digest(d) for d in digests]
    _RECOVERED.clear()  # every call recovers: none is answered from recover_signer's cache of earlier passes
    start = clock()
    for d, s in zip(digests, sigs, strict=True):
        recover_signer(d, s)
    return n / (clock() - start)


def bound_pair(n: int = 10000) -> tuple[float, float, float]:
    """The bound by wall clock and by this process's CPU time (the second is less sensitive to other load), and
    the C recovery alone by CPU time (:func:`bench_raw_recover`)."""
    return bench_recover(n), bench_recover(n, time.process_time), bench_raw_recover(n)


def bench_raw_recover(n: int = 10000) -> float:
    """``secp256k1_ecdsa_recover`` calls per CPU second on pre-parsed signatures and pre-hashed messages: the C
    recovery alone, no Python around it (the machine's floor under ``recover_signer``)."""
    from coincurve import _libsecp256k1 as c
    from coincurve.context import GLOBAL_CONTEXT

    from ledgerml.identity import eip191_hash

    ctx, recover, key = GLOBAL_CONTEXT.ctx, c.lib.secp256k1_ecdsa_recover, c.ffi.new("secp256k1_pubkey *")
    digests = [hashlib.sha256(str(i).encode()).digest() for i in range(n)]
    messages, parsed = [eip191_hash(d) for d in digests], []
    for signature in (OWNER.sign_digest(d) for d in digests):
        sig = c.ffi.new("secp256k1_ecdsa_recoverable_signature *")
        assert c.lib.secp256k1_ecdsa_recoverable_signature_parse_compact(ctx, sig, signature[:64], signature[64] - 27)
        parsed.append(sig)
    start = time.process_time()
    for message, sig in zip(messages, parsed, strict=True):
        recover(ctx, key, sig, message)
    return n / (time.process_time() - start)


def bench_appends(folder: Path, synchronous: str) -> dict[str, float]:
    ledger = new_ledger(folder, f"append-{synchronous}.db", synchronous)
    n_single = 2000
    start = time.perf_counter()
    for i in range(n_single):
        ledger.submit(OWNER, payload(i))
    single = n_single / (time.perf_counter() - start)
    n_batch, batch = 50_000, 1000
    base = ledger.next_nonce(OWNER.address)
    start = time.perf_counter()
    events = [sign_event(OWNER, ledger.ledger_id, payload(10**6 + i), base + i) for i in range(n_batch)]
    signing = n_batch / (time.perf_counter() - start)
    start = time.perf_counter()
    for k in range(0, n_batch, batch):
        ledger.append_batch(events[k : k + batch])
    batched = n_batch / (time.perf_counter() - start)
    ledger.close()
    return {"single_per_s": single, "batched_per_s": batched, "client_signing_per_s": signing}


def grow(ledger: SqliteLedger, target: int, next_id: list[int]) -> None:
    """Append pre-signed batches until the log holds ``target`` events."""
    while ledger.size < target:
        count = min(5000, target - ledger.size)
        base = ledger.next_nonce(OWNER.address)
        events = [sign_event(OWNER, ledger.ledger_id, payload(next_id[0] + i), base + i) for i in range(count)]
        next_id[0] += count
        ledger.append_batch(events)
    ledger.seal()


def timed(fn: Any, repeat: int) -> float:
    """Median seconds of one call of ``fn``."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


ALL_CPUS = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0]


def timed_verify(ledger: SqliteLedger, size: int, *, workers: int, cpus: int = 1) -> tuple[float, float]:
    """Wall and CPU seconds (this process) of one full verify with ``workers`` recovery processes on ``cpus``."""
    os.environ["LEDGERML_VERIFY_WORKERS"] = str(workers)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(ALL_CPUS[:cpus]))
    try:
        start, cpu = time.perf_counter(), time.process_time()
        report = ledger.verify()
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {ALL_CPUS[0]})
        del os.environ["LEDGERML_VERIFY_WORKERS"]
    assert report.ok and report.events_checked == size, report
    return seconds, cpu


def bench_verify(ledger: SqliteLedger, size: int, reps: int = 3) -> dict[str, Any]:
    """One-core and two-core verifies alternating with the bound ``reps`` times, the best (least disturbed by other
    load) of each kept, and the load average."""
    walls, cpus, two_walls, bounds = [], [], [], []
    for _ in range(reps):
        bounds.append(bound_pair(3000))
        wall, cpu = timed_verify(ledger, size, workers=0)
        walls.append(wall)
        cpus.append(cpu)
        if len(ALL_CPUS) >= 2:
            two_walls.append(timed_verify(ledger, size, workers=1, cpus=2)[0])
    bounds.append(bound_pair(3000))
    return {
        "bound_per_s": max(b[0] for b in bounds),
        "bound_cpu_per_s": max(b[1] for b in bounds),
        "raw_recover_cpu_per_s": max(b[2] for b in bounds),
        "verify_seconds": min(walls),
        "verify_events_per_s": size / min(walls),
        "verify_cpu_events_per_s": size / min(cpus),
        "verify_two_cores_events_per_s": size / min(two_walls) if two_walls else None,
        "load_average_1min": os.getloadavg()[0],
    }


def bench_size(path: Path, size: int) -> dict[str, Any]:
    rng = random.Random(size)
    start = time.perf_counter()
    ledger = Ledger.open(sqlite_url(path))
    assert isinstance(ledger, SqliteLedger)
    head = ledger.block()
    first_proof = ledger.inclusion_proof(0)  # loads the Merkle tree from the leaf-hash column
    cold_load = time.perf_counter() - start
    seqs = [rng.randrange(size) for _ in range(300)]
    gen_total = timed(lambda: [ledger.inclusion_proof(s) for s in seqs], 3) / len(seqs)
    tree = ledger._tree
    path_only = timed(lambda: [tree.inclusion_path(s, head.log_size) for s in seqs], 3) / len(seqs)
    proofs = [ledger.inclusion_proof(s) for s in seqs[:100]]
    verify_full = timed(lambda: [verify_inclusion_proof(p) for p in proofs], 3) / len(proofs)
    from ledgerml.ledger.merkle import leaf_hash

    verify_path = timed(
        lambda: [
            verify_inclusion(leaf_hash(p.event), p.leaf_index, p.block.log_size, p.path, p.block.log_root)
            for p in proofs
        ],
        3,
    ) / len(proofs)
    proof_bytes = statistics.mean(len(json.dumps(p.to_dict())) for p in proofs)
    old_heights = [rng.randrange(head.height) for _ in range(100)]
    cons_gen = timed(lambda: [ledger.consistency_proof(h) for h in old_heights], 3) / len(old_heights)
    cons = [ledger.consistency_proof(h) for h in old_heights]
    cons_verify_full = timed(lambda: [verify_consistency_proof(c) for c in cons], 3) / len(cons)
    cons_verify_path = timed(
        lambda: [
            verify_consistency(c.old.log_size, c.new.log_size, c.old.log_root, c.new.log_root, c.path) for c in cons
        ],
        3,
    ) / len(cons)
    cons_bytes = statistics.mean(len(json.dumps(c.to_dict())) for c in cons)
    verify = bench_verify(ledger, size)
    ledger.close()
    del first_proof
    return {
        "events": size,
        **verify,
        "open_and_load_tree_s": cold_load,
        "inclusion_gen_ms": gen_total * 1e3,
        "inclusion_path_only_ms": path_only * 1e3,
        "inclusion_verify_ms": verify_full * 1e3,
        "inclusion_verify_path_only_ms": verify_path * 1e3,
        "inclusion_hashes": statistics.mean(len(p.path) for p in proofs),
        "inclusion_json_bytes": proof_bytes,
        "consistency_gen_ms": cons_gen * 1e3,
        "consistency_verify_ms": cons_verify_full * 1e3,
        "consistency_verify_path_only_ms": cons_verify_path * 1e3,
        "consistency_hashes": statistics.mean(len(c.path) for c in cons),
        "consistency_json_bytes": cons_bytes,
        "db_mb": path.stat().st_size / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "ledger.json"))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    results: dict[str, Any] = {
        "machine": {"python": sys.version.split()[0], "platform": platform.platform(), "cpus_used": 1}
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        results["recoveries_per_s"] = bench_recover()
        print(f"secp256k1 recoveries/s (EIP-191, one core): {results['recoveries_per_s']:,.0f}", flush=True)
        for mode in ("normal", "full"):
            results[f"append_{mode}"] = bench_appends(folder, mode)
            print(f"appends synchronous={mode}: {results[f'append_{mode}']}", flush=True)
        ledger = new_ledger(folder, "grow.db", "normal", block_size=1000)
        next_id = [0]
        results["sizes"] = []
        for size in sizes:
            start = time.perf_counter()
            grow(ledger, size, next_id)
            print(f"grew to {size:,} events in {time.perf_counter() - start:.1f}s", flush=True)
            ledger.close()
            row = bench_size(folder / "grow.db", size)
            results["sizes"].append(row)
            print(json.dumps(row), flush=True)
            ledger = Ledger.open(sqlite_url(folder / "grow.db", block_size=1000, block_interval=3600), validator=ADMIN)
            assert isinstance(ledger, SqliteLedger)
        ledger.close()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print_table(results)


def print_table(r: dict[str, Any]) -> None:
    print(
        "\n| events | bound: recoveries/s, one core | verify/s, one core | share | bound, CPU time | verify, CPU "
        "time | share (CPU time) | C recovery alone, CPU time | share of it (CPU time) | verify/s, two cores | share "
        "| load average |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for s in r["sizes"]:
        bound, bound_cpu, two = s["bound_per_s"], s["bound_cpu_per_s"], s["verify_two_cores_events_per_s"]
        raw = s["raw_recover_cpu_per_s"]
        two_cells = "- | -" if two is None else f"{two:,.0f} | {100 * two / bound:.0f}%"
        print(
            f"| {s['events']:,} | {bound:,.0f} | {s['verify_events_per_s']:,.0f} | "
            f"{100 * s['verify_events_per_s'] / bound:.0f}% | {bound_cpu:,.0f} | {s['verify_cpu_events_per_s']:,.0f} | "
            f"{100 * s['verify_cpu_events_per_s'] / bound_cpu:.0f}% | {raw:,.0f} | "
            f"{100 * s['verify_cpu_events_per_s'] / raw:.0f}% | {two_cells} | {s['load_average_1min']:.1f} |"
        )
    print("\n| measure | value |\n|---|---|")
    print(f"| secp256k1 EIP-191 recoveries/s (the bound on verify) | {r['recoveries_per_s']:,.0f} |")
    for mode in ("normal", "full"):
        a = r[f"append_{mode}"]
        print(f"| single appends/s, synchronous={mode} (sign + one transaction each) | {a['single_per_s']:,.0f} |")
        print(f"| batched appends/s, synchronous={mode} (1,000 pre-signed per batch) | {a['batched_per_s']:,.0f} |")
    print(f"| client-side signing/s | {r['append_normal']['client_signing_per_s']:,.0f} |")
    print(
        "\n| events | verify ev/s | open + load tree (s) | incl. gen (ms) | incl. path only (ms) | incl. verify "
        "(ms) | incl. hashes / JSON bytes | cons. gen (ms) | cons. verify (ms) | cons. hashes / JSON bytes | db MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for s in r["sizes"]:
        print(
            f"| {s['events']:,} | {s['verify_events_per_s']:,.0f} | {s['open_and_load_tree_s']:.2f} | "
            f"{s['inclusion_gen_ms']:.3f} | {s['inclusion_path_only_ms']:.3f} | {s['inclusion_verify_ms']:.3f} | "
            f"{s['inclusion_hashes']:.1f} / {s['inclusion_json_bytes']:,.0f} | {s['consistency_gen_ms']:.3f} | "
            f"{s['consistency_verify_ms']:.3f} | {s['consistency_hashes']:.1f} / {s['consistency_json_bytes']:,.0f}"
            f" | {s['db_mb']:.0f} |"
        )


if __name__ == "__main__":
    main()
