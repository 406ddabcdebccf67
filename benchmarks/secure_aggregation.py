"""Secure aggregation vs the plaintext norm-clipped mean on digits: final accuracy under attack, the per-round
overhead of the secure mode at 10 clients, and how its cryptography grows to 100 clients.

Usage: nice python benchmarks/secure_aggregation.py [--rounds 20] [--one-core]
       [--out benchmarks/results/secure_aggregation.json]

Part 1 runs the real ServerApp/ClientApp in process (``LocalGrid``), recorded on a ledger, for each attack
(scaling, sign_flip; 20% of 10 clients; Dirichlet alpha = 0.5), once with ``secure = false`` and once with
``secure = true`` (same seed, same clip), and times every round of both. Part 2 times the protocol's pure
cryptography (keys, sealed Shamir shares, masking, reveals, unmasking) without Flower for 10 to 100 clients,
with no dropout and with 30% dropping out before the masked input.
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

import numpy as np

from ledgerml.federated.apps import run_in_process
from ledgerml.federated.runner import FederationConfig, round_history, setup_federation
from ledgerml.federated.secure import protocol, quantize
from ledgerml.home import Home

CLIP = 1.0
DIGITS_PARAMETERS = 64 * 10 + 10


def federation(tmp: Path, name: str, attack: str, secure: bool, rounds: int) -> dict[str, float]:
    """Final validation accuracy and mean seconds per round of one federation."""
    home = Home(tmp / name)
    home.init(unencrypted=True, block_size=100000)
    config = FederationConfig(
        task_id=name,
        dataset="digits",
        participants=10,
        partition="dirichlet",
        alpha=0.5,
        rounds=rounds,
        rule="norm_clipped_mean",
        rule_params={"clip": CLIP},
        secure=secure,
        epochs=1,
        lr=0.5,
        max_update_norm=None,
        min_participants=1,
        attack=attack,
        attack_fraction=0.2,
        attack_params={"boost": 10.0, "scale": 4.0},
    )
    setup_federation(home, config, unencrypted=True)
    stamps = [time.perf_counter()]
    run_in_process(home, name, on_round=lambda outcome: stamps.append(time.perf_counter()))
    per_round = np.diff(stamps[1:]) if len(stamps) > 2 else np.diff(stamps)
    return {
        "accuracy": float(round_history(home, name)[-1]["metrics"]["val_accuracy"]),
        "seconds_per_round": float(np.median(per_round)),
    }


def crypto_round(clients: int, dropout: float, length: int = DIGITS_PARAMETERS + 1) -> dict[str, float]:
    """Seconds of one round's cryptography: all clients' work (sequential), one client's, and the server's."""
    context = protocol.context_bytes("bench", "task", 1)
    names = [f"c{i:03d}" for i in range(clients)]
    started = time.perf_counter()
    sessions = protocol.exchange_in_process(names, context)
    survivors = names[: clients - round(dropout * clients)]
    dropped = names[len(survivors) :]
    rng = np.random.default_rng(0)
    bits = quantize.frac_bits(clients, CLIP)
    inputs = {n: quantize.encode(quantize.clip_l2(rng.normal(size=length - 1), CLIP), 100, CLIP, bits) for n in names}
    masked = {n: sessions[n].mask(inputs[n], names) for n in survivors}
    reveals = {n: sessions[n].reveal(survivors, dropped) for n in survivors}
    client_side = time.perf_counter() - started
    started = time.perf_counter()
    t = protocol.threshold(clients)
    seeds = {n: protocol.reconstruct(reveals, n, "b", t) for n in survivors}
    mask_keys = {n: protocol.reconstruct(reveals, n, "s", t) for n in dropped}
    public = {n: session.advertise()["mask_key"] for n, session in sessions.items()}
    total = protocol.unmask(masked, seeds, mask_keys, public, context)
    server_side = time.perf_counter() - started
    expected = np.zeros(length, dtype=np.uint64)
    for n in survivors:
        expected = expected + inputs[n]
    assert np.array_equal(total, expected), "the unmasked sum is not the sum of the inputs"
    return {
        "all_clients_s": client_side,
        "per_client_s": client_side / clients,
        "server_s": server_side,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--one-core", action="store_true", help="pin this process to one CPU")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "secure_aggregation.json"))
    args = parser.parse_args()
    if args.one_core:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        os.environ["LEDGERML_AGG_THREADS"] = "1"
    logging.getLogger("flwr").setLevel(logging.ERROR)
    results: dict[str, Any] = {"accuracy": {}, "crypto": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for attack in ("scaling", "sign_flip"):
            row = {
                mode: federation(Path(tmp), f"{attack}-{mode}", attack, mode == "secure", args.rounds)
                for mode in ("plaintext", "secure")
            }
            row["overhead_s_per_round"] = row["secure"]["seconds_per_round"] - row["plaintext"]["seconds_per_round"]
            results["accuracy"][attack] = row
            print(attack, json.dumps(row), flush=True)
    for clients in (10, 25, 50, 100):
        for dropout in (0.0, 0.3):
            results["crypto"][f"{clients}/{dropout}"] = crypto_round(clients, dropout)
            print(clients, dropout, json.dumps(results["crypto"][f"{clients}/{dropout}"]), flush=True)
    Path(args.out).write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
