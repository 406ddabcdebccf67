"""Final validation accuracy on digits for every aggregation rule x attack x attacker fraction, IID and
non-IID (Dirichlet alpha = 0.5), 10 clients, 20 rounds - run through the real ServerApp/ClientApp in process,
recorded on a ledger like any federation.

Usage: python benchmarks/robustness.py [--rounds 20] [--out benchmarks/results/robustness.json]
The per-update norm bound is switched off (max_update_norm = None) so that the rules alone are measured.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
os.environ.setdefault("FLWR_DISABLE_UPDATE_CHECK", "1")

from ledgerml.federated.apps import run_in_process
from ledgerml.federated.runner import FederationConfig, round_history, setup_federation
from ledgerml.home import Home

RULES: dict[str, dict[str, Any]] = {
    "fedavg": {},
    "median": {},
    "trimmed_mean": {"beta": 0.3},
    "krum": {"f": 3},
    "multi_krum": {"f": 3},
    "bulyan": {"f": 3},
    "norm_clipped_mean": {"clip": 2.0},
}
ATTACKS = ["label_flip", "sign_flip", "scaling", "gaussian_noise", "free_ride", "sybil"]
FRACTIONS = [0.1, 0.3]


def run(home: Home, name: str, partition: str, rule: str, attack: str, fraction: float, rounds: int) -> float:
    config = FederationConfig(
        task_id=name,
        dataset="digits",
        participants=10,
        partition=partition,
        alpha=0.5,
        rounds=rounds,
        rule=rule,
        rule_params=RULES[rule],
        epochs=1,
        lr=0.5,
        max_update_norm=None,
        min_participants=1,
        attack=attack,
        attack_fraction=fraction,
        attack_params={"sigma": 1.0, "boost": 10.0, "scale": 4.0},
    )
    setup_federation(home, config, unencrypted=True)
    run_in_process(home, name)
    return float(round_history(home, name)[-1]["metrics"]["val_accuracy"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "robustness.json"))
    args = parser.parse_args()
    logging.getLogger("flwr").setLevel(logging.ERROR)
    results: dict[str, Any] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        count = 0
        for partition in ("iid", "dirichlet"):
            for rule in RULES:
                # one ledger home per rule row: ledgers replay their log when opened, keep them small
                home = Home(Path(tmp) / f"{partition}-{rule}")
                home.init(unencrypted=True, block_size=100000)
                key = f"{partition}/{rule}"
                results[key] = {"clean": run(home, f"r{count}", partition, rule, "none", 0.0, args.rounds)}
                count += 1
                for attack in ATTACKS:
                    for fraction in FRACTIONS:
                        results[key][f"{attack}@{fraction}"] = run(
                            home, f"r{count}", partition, rule, attack, fraction, args.rounds
                        )
                        count += 1
                print(key, json.dumps({k: round(v, 3) for k, v in results[key].items()}), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(f"\n{count} federations in {time.perf_counter() - started:.0f}s\n")
    for partition in ("iid", "dirichlet"):
        clean = results[f"{partition}/fedavg"]["clean"]
        print(f"### {partition} (clean FedAvg accuracy {clean:.3f})\n")
        columns = ["clean"] + [f"{a}@{f}" for a in ATTACKS for f in FRACTIONS]
        print("| rule | " + " | ".join(c.replace("@", " ") for c in columns) + " |")
        print("|---|" + "---|" * len(columns))
        for rule in RULES:
            row = results[f"{partition}/{rule}"]
            print(f"| {rule} | " + " | ".join(f"{row[c]:.3f}" for c in columns) + " |")
        for attack in ("sign_flip", "scaling"):
            best_rule = max(RULES, key=lambda r: results[f"{partition}/{r}"][f"{attack}@0.3"])
            best = results[f"{partition}/{best_rule}"][f"{attack}@0.3"]
            print(
                f"\nbest at 30% {attack}: {best_rule} {best:.3f}, {100 * (clean - best):+.1f} points from clean FedAvg"
            )
        print()


if __name__ == "__main__":
    main()
