"""Wall time of the same federation with and without ledger recording, side by side in one run.

Without: Flower's own FedAvg strategy and a ClientApp that trains the same numpy model on the same data and
returns its arrays. With: ledgerml's LedgerStrategy and ClientApp (safetensors encoding, signed
commitments, validation, artifact store with fsync, the rule, RoundFinalized, all on the SQLite ledger).
Both run through the same in-process Grid with the same server-side evaluation, alternating, 3 times each.

Usage: python benchmarks/fl_overhead.py [--participants 10 --rounds 20 --workloads 64x2,256x5,256x40]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
os.environ.setdefault("FLWR_DISABLE_UPDATE_CHECK", "1")

import numpy as np
from flwr.app import Array, ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp.strategy import FedAvg

from ledgerml.federated.apps import run_in_process
from ledgerml.federated.flower import LocalGrid, local_contexts
from ledgerml.federated.runner import (
    FederationConfig,
    load_participant,
    load_plan,
    setup_federation,
    validation_evaluator,
)
from ledgerml.home import Home
from ledgerml.ml.models import build_model


def plain_run(home: Home, task_id: str, spec: dict[str, Any], rounds: int) -> float:
    """The federation without any ledger: Flower FedAvg over a plain ClientApp."""
    count = len(load_plan(home, task_id).participants)
    people = [load_participant(home, task_id, i) for i in range(count)]
    evaluate = validation_evaluator(home, task_id)
    app = ClientApp()

    @app.train()
    def train(message: Message, context: Context) -> Message:
        me = people[int(context.node_config["partition-id"])]
        model = build_model(spec)
        model.set_weights({k: v.numpy() for k, v in message.content["arrays"].items()})
        rng = np.random.default_rng([me.seed, int(message.content["config"]["server-round"])])
        model.fit(me.X, me.y, epochs=me.epochs, lr=me.lr, batch_size=me.batch_size, rng=rng)
        weights = model.get_weights()
        return Message(
            RecordDict(
                {
                    "arrays": ArrayRecord({k: Array(weights[k]) for k in sorted(weights)}),
                    "metrics": MetricRecord({"num-examples": len(me.X)}),
                }
            ),
            reply_to=message,
        )

    initial = build_model(spec).get_weights()
    strategy = FedAvg(fraction_evaluate=0.0, min_available_nodes=1, min_train_nodes=1)
    with LocalGrid(app, local_contexts(count)) as grid:
        started = time.perf_counter()
        strategy.start(
            grid,
            ArrayRecord({k: Array(initial[k]) for k in sorted(initial)}),
            num_rounds=rounds,
            evaluate_fn=lambda r, arrays: MetricRecord(evaluate({k: v.numpy() for k, v in arrays.items()})),
        )
        return time.perf_counter() - started


def measure(
    home: Home, tag: str, participants: int, rounds: int, hidden: int, epochs: int, repeat: int
) -> dict[str, Any]:
    with_ledger, without = [], []
    for i in range(repeat):
        config = FederationConfig(
            task_id=f"{tag}-{i}",
            participants=participants,
            rounds=rounds,
            partition="iid",
            rule="fedavg",
            model={"type": "mlp", "hidden": hidden},
            epochs=epochs,
            lr=0.1,
            max_update_norm=None,
            min_participants=1,
        )
        setup_federation(home, config, unencrypted=True)
        spec = {"type": "mlp", "hidden": hidden, "n_features": 64, "n_classes": 10, "seed": 0}
        without.append(plain_run(home, config.task_id, spec, rounds))
        started = time.perf_counter()
        run_in_process(home, config.task_id)
        with_ledger.append(time.perf_counter() - started)
    a, b = statistics.median(without), statistics.median(with_ledger)
    return {
        "participants": participants,
        "rounds": rounds,
        "model": f"mlp hidden={hidden}",
        "epochs": epochs,
        "without_ledger_s": without,
        "with_ledger_s": with_ledger,
        "median_without_s": a,
        "median_with_s": b,
        "overhead_pct": 100 * (b - a) / a,
        "ledger_ms_per_round": 1000 * (b - a) / rounds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--participants", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument(
        "--workloads", default="64x2,256x5,256x40", help="comma-separated HIDDENxEPOCHS local-training workloads"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "fl_overhead.json"))
    args = parser.parse_args()
    logging.getLogger("flwr").setLevel(logging.ERROR)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # one BLAS thread and one core: both variants compete for nothing
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, workload in enumerate(args.workloads.split(",")):
            hidden, epochs = (int(v) for v in workload.split("x"))
            home = Home(Path(tmp) / f"home{n}")
            home.init(unencrypted=True)
            rows.append(measure(home, f"w{n}", args.participants, args.rounds, hidden, epochs, args.repeat))
            print(json.dumps(rows[-1]), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=2))
    print(
        f"\n{args.participants} participants, {args.rounds} rounds, median of {args.repeat}; durability: "
        "synchronous=normal (no per-object fsync); pinned to one core, one BLAS thread\n"
    )
    print("| local training | Flower FedAvg, no ledger (s) | ledgerml, recorded (s) | overhead | ledger ms per round |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['model']}, {r['epochs']} epochs | {r['median_without_s']:.2f} | {r['median_with_s']:.2f} | "
            f"{r['overhead_pct']:+.1f}% | {r['ledger_ms_per_round']:.1f} |"
        )


if __name__ == "__main__":
    main()
