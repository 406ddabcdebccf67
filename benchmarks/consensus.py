"""Consensus parameters: block-cutting policies replayed on the real SQLite ledger, and QBFT round timeouts in a
discrete-event simulation, each against its baselines in one run.

Usage: python benchmarks/consensus.py [--blocks-csv FILE] [--mainnet-blocks 40] [--thin 5] [--heights 500]
       [--out benchmarks/results/consensus.json] [--img docs/img] [--cutting-only]

Block cutting: two traces (the first mainnet blocks of the shared sample, each block's transactions released
at its timestamp as an indexer would submit them; and a generated on/off federated-round workload), each
replayed on a new SQLite ledger under fixed (size, interval) settings, the idle-gap rule and the learned
policy (block costs 10k..100k event-ms), each recorded as a signed SealingPolicySet that the ledger then cuts its
blocks by; virtual time advanced by the measured cost of every submit and seal. QBFT: n = 4, 7, 16 validators,
fault-free, a crashed round-0 proposer every 50 heights, a slow proposer (3 s) every 20 heights; Besu's
fixed requesttimeoutseconds (10 s, the Besu docs' example) vs Jacobson/Karels vs the contextual bandit.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ledgerml.consensus.cutting import FixedPolicy, IdleGapPolicy, LearnedPolicy
from ledgerml.consensus.qbft import Faults
from ledgerml.consensus.traces import Trace, mainnet_trace, onoff_trace
from ledgerml.consensus.tune import POLICIES, Conditions, measure_signature_cost, simulate
from ledgerml.identity import Identity
from ledgerml.workflows.cutting_replay import CuttingResult, replay_new

CUTTING_POLICIES = [
    FixedPolicy(1000, 500.0),
    FixedPolicy(1000, 2000.0),
    FixedPolicy(1000, 5000.0),
    FixedPolicy(1000, 12000.0),
    FixedPolicy(100, 1000.0),
    IdleGapPolicy(1000, 20.0, 2000.0),
    IdleGapPolicy(1000, 100.0, 2000.0),
    LearnedPolicy(1000, 10_000.0, 2000.0),
    LearnedPolicy(1000, 20_000.0, 2000.0),
    LearnedPolicy(1000, 50_000.0, 2000.0),
    LearnedPolicy(1000, 100_000.0, 2000.0),
]


def _label(result: CuttingResult) -> str:
    return result.policy + " " + ",".join(f"{k}={v:g}" for k, v in result.parameters.items())


def cutting(trace: Trace) -> list[CuttingResult]:
    validator, indexer = Identity.generate("validator"), Identity.generate("indexer")
    with tempfile.TemporaryDirectory() as folder:
        return [
            replay_new(Path(folder) / f"{i}.db", trace, policy, validator=validator, submitter=indexer)
            for i, policy in enumerate(CUTTING_POLICIES)
        ]


def headline(results: list[CuttingResult]) -> list[dict[str, Any]]:
    """Each learned run against two fixed settings that seal at least as many blocks: the one with the lowest p99
    (any number of extra blocks) and the one with the closest block count (the equal-budget comparison)."""
    fixed = [r for r in results if r.policy == "fixed"]
    rows = []
    for learned in (r for r in results if r.policy == "learned"):
        rivals = [f for f in fixed if f.blocks >= learned.blocks]
        if not rivals:
            continue
        for kind, rival in (
            ("lowest p99", min(rivals, key=lambda f: f.p99_ms)),
            ("closest budget", min(rivals, key=lambda f: (f.blocks, f.p99_ms))),
        ):
            rows.append(
                {
                    "learned": _label(learned),
                    "versus": kind,
                    "fixed": _label(rival),
                    "learned_p99": learned.p99_ms,
                    "fixed_p99": rival.p99_ms,
                    "p99_change": learned.p99_ms / rival.p99_ms - 1,
                    "learned_blocks": learned.blocks,
                    "fixed_blocks": rival.blocks,
                }
            )
    return rows


def print_cutting(name: str, trace: Trace, results: list[CuttingResult]) -> None:
    print(f"\nBlock cutting, {name}: {trace.events} events\n")
    print("| policy | blocks | blocks / 10k events | p50 time-to-seal (ms) | p99 (ms) | submit ms | seal ms |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {_label(r)} | {r.blocks} | {r.blocks_per_10k:.0f} | {r.p50_ms:.0f} | {r.p99_ms:.0f} | "
            f"{r.submit_ms:.2f} | {r.seal_ms:.2f} |"
        )
    for row in headline(results):
        print(
            f"\n{row['learned']}: p99 {row['learned_p99']:.0f} ms with {row['learned_blocks']} blocks vs best fixed "
            f"with at least as many blocks ({row['fixed']}, {row['fixed_blocks']} blocks) {row['fixed_p99']:.0f} ms: "
            f"{row['p99_change']:+.0%}"
        )


def qbft(heights: int, sign_ms: float, verify_ms: float) -> list[dict[str, Any]]:
    rows = []
    scenarios = {
        "fault-free": Faults(),
        "crash / 50": Faults(crash_every=50),
        "slow 3 s / 20": Faults(slow_every=20, slow_ms=3000.0),
    }
    for n in (4, 7, 16):
        conditions = Conditions(
            validators=n, heights=heights if n < 16 else heights * 3 // 5, sign_ms=sign_ms, verify_ms=verify_ms
        )
        for scenario, faults in scenarios.items():
            for name, make in POLICIES.items():
                result = simulate(conditions, functools.partial(make, conditions), faults)
                rows.append({"n": n, "scenario": scenario, "policy": name, **result})
    return rows


def print_qbft(rows: list[dict[str, Any]], sign_ms: float, verify_ms: float) -> None:
    print(
        f"\nQBFT simulation (block period 5 s, base timeout 10 s; sign {sign_ms:.3f} ms, verify {verify_ms:.3f} ms "
        "measured here)\n"
    )
    print("| n | scenario | timeout policy | p50 between commits (ms) | p99 (ms) | round changes, fault-free heights |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['n']} | {r['scenario']} | {r['policy']} | {r['p50_ms']:.0f} | {r['p99_ms']:.0f} | "
            f"{r['fault_free_round_change_rate']:.1%} |"
        )


def plots(folder: Path, traces: dict[str, list[CuttingResult]], rows: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, len(traces), figsize=(12, 4))
    for ax, (name, results) in zip(np.atleast_1d(axes), traces.items(), strict=True):
        for r in results:
            if r.policy != "fixed" or r.parameters.get("max_wait_ms") in (2000.0, 12000.0):
                values = np.sort(r.latencies_ms)
                ax.plot(values, np.linspace(0, 1, len(values)), label=f"{_label(r)} ({r.blocks} blocks)", lw=1)
        ax.set_xscale("log")
        ax.set_xlabel("time to seal (ms, log)")
        ax.set_ylabel("share of events")
        ax.set_title(name)
        ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(folder / "consensus-time-to-seal.png", dpi=110)
    plt.close(fig)
    if not rows:
        return
    fig, ax = plt.subplots(figsize=(8, 4))
    crash = [r for r in rows if r["scenario"] == "crash / 50"]
    policies = list(dict.fromkeys(r["policy"] for r in crash))
    for i, policy in enumerate(policies):
        mine = [r for r in crash if r["policy"] == policy]
        ax.bar(np.arange(len(mine)) + 0.27 * i, [r["p99_ms"] for r in mine], 0.27, label=policy)
    ax.set_xticks(np.arange(3) + 0.27, ["n=4", "n=7", "n=16"])
    ax.set_ylabel("p99 time between commits (ms)")
    ax.set_title("QBFT simulation, a crashed proposer every 50 heights")
    ax.legend()
    fig.tight_layout()
    fig.savefig(folder / "consensus-qbft-p99.png", dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data = Path(os.environ.get("LEDGERML_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--blocks-csv", type=Path, default=data / "eth_blocks_sample" / "data" / "blocks.csv")
    parser.add_argument("--mainnet-blocks", type=int, default=40)
    parser.add_argument("--thin", type=int, default=5)
    parser.add_argument("--heights", type=int, default=500)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/consensus.json"))
    parser.add_argument("--img", type=Path, default=Path("docs/img"))
    parser.add_argument("--cutting-only", action="store_true", help="Only the block-cutting replays.")
    args = parser.parse_args()
    traces = {
        "mainnet blocks": mainnet_trace(args.blocks_csv, thin=args.thin, limit=args.mainnet_blocks),
        "on/off rounds": onoff_trace(bursts=40),
    }
    cut = {}
    for name, trace in traces.items():
        cut[name] = cutting(trace)
        print_cutting(name, trace, cut[name])
    rows: list[dict[str, Any]] = []
    if not args.cutting_only:
        sign_ms, verify_ms = measure_signature_cost()
        rows = qbft(args.heights, sign_ms, verify_ms)
        print_qbft(rows, sign_ms, verify_ms)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "cutting": {k: [r.to_dict() for r in v] for k, v in cut.items()},
                "headline": {k: headline(v) for k, v in cut.items()},
                "qbft": rows,
            },
            indent=2,
        )
    )
    plots(args.img, cut, rows)


if __name__ == "__main__":
    main()
