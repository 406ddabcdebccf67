"""Wall time of the same federation with and without ledger recording, side by side in one run.

Without: Flower's own FedAvg strategy and a ClientApp that trains the same numpy model on the same data and
returns its arrays. With: ledgerml's LedgerStrategy and ClientApp (safetensors encoding, signed
commitments, validation, artifact store with fsync, the rule, RoundFinalized, all on the SQLite ledger).
Both run through the same in-process Grid with the same server-side evaluation, alternating, 3 times each.
The ledger runs twice: a round's commitments appended one event at a time, and in one batch (one
transaction, one state-machine pass; the default).

``--round-only N`` times only the aggregator's side of one round (screen, store, append the commitments,
validate, aggregate, finalize) on the same pre-trained replies, N times per variant, alternating, each on a
fresh copy of the ledger home: no training, so the difference between one-by-one and batched commitments is
not buried in training-time noise.

Usage: python benchmarks/fl_overhead.py [--participants 10 --rounds 20 --workloads 64x2,256x5,256x40]
       python benchmarks/fl_overhead.py --round-only 30 [--participants 10]
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
from ledgerml.federated.coordinator import TaskCoordinator
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
    with_ledger, per_event, without = [], [], []
    for i in range(repeat):
        for variant, times in (("plain", without), ("single", per_event), ("batch", with_ledger)):
            config = _config(f"{tag}-{variant}-{i}", participants, rounds, hidden, epochs)
            setup_federation(home, config, unencrypted=True)
            if variant == "plain":
                spec = {"type": "mlp", "hidden": hidden, "n_features": 64, "n_classes": 10, "seed": 0}
                times.append(plain_run(home, config.task_id, spec, rounds))
                continue
            TaskCoordinator.batch_commitments = variant == "batch"
            started = time.perf_counter()
            run_in_process(home, config.task_id)
            times.append(time.perf_counter() - started)
    TaskCoordinator.batch_commitments = True
    a, b, c = statistics.median(without), statistics.median(with_ledger), statistics.median(per_event)
    return {
        "participants": participants,
        "rounds": rounds,
        "model": f"mlp hidden={hidden}",
        "epochs": epochs,
        "without_ledger_s": without,
        "with_ledger_per_event_s": per_event,
        "with_ledger_s": with_ledger,
        "median_without_s": a,
        "median_per_event_s": c,
        "median_with_s": b,
        "overhead_pct": 100 * (b - a) / a,
        "ledger_ms_per_round": 1000 * (b - a) / rounds,
        "ledger_ms_per_round_per_event": 1000 * (c - a) / rounds,
    }


def _config(task_id: str, participants: int, rounds: int, hidden: int, epochs: int) -> FederationConfig:
    return FederationConfig(
        task_id=task_id,
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


def round_cost(template: Path, work: Path, task_id: str, replies: list[Any], batch: bool) -> float:
    """Seconds the aggregator takes to process one round of ``replies`` on a fresh copy of ``template``."""
    import shutil

    from ledgerml.federated.coordinator import TaskCoordinator as Coordinator

    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(template, work)
    home = Home(work)
    with home.open_ledger() as ledger:
        coordinator = Coordinator(ledger, home.store(), home.identity(load_plan(home, task_id).aggregator), task_id)
        coordinator.batch_commitments = batch
        started = time.perf_counter()
        outcome = coordinator.process_round(replies)
        elapsed = time.perf_counter() - started
    assert outcome.status == "ok" and len(outcome.accepted) == len(replies)
    return elapsed


def round_only(tmp: Path, participants: int, repeat: int) -> dict[str, Any]:
    """One round's aggregator-side cost with commitments appended one by one and in one batch."""
    from ledgerml.federated.coordinator import Reply
    from ledgerml.ml.serialization import to_bytes

    template = Path(tmp) / "template"
    home = Home(template)
    home.init(unencrypted=True)
    config = _config("round", participants, 1, 64, 1)
    setup_federation(home, config, unencrypted=True)
    people = [load_participant(home, "round", i) for i in range(participants)]
    with home.open_ledger() as ledger:
        for person in people:
            ledger.append(person.join(ledger.ledger_id, "round", ledger.next_nonce(person.address)))
        coordinator = TaskCoordinator(ledger, home.store(), home.identity(config.aggregator), "round")
        train_config = coordinator.train_config()
        spec, base = coordinator.model_spec(), to_bytes(coordinator.global_weights())
    replies = []
    for person in people:
        data, event, _ = person.train(base, train_config, spec)
        replies.append(Reply(person.address, event.to_dict(), data))
    single, batch = [], []
    for _ in range(repeat):
        single.append(round_cost(template, Path(tmp) / "work", "round", replies, batch=False))
        batch.append(round_cost(template, Path(tmp) / "work", "round", replies, batch=True))
    return {
        "participants": participants,
        "round_ms_one_by_one": [1000 * t for t in single],
        "round_ms_batch": [1000 * t for t in batch],
        "median_one_by_one_ms": 1000 * statistics.median(single),
        "median_batch_ms": 1000 * statistics.median(batch),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--participants", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument(
        "--workloads", default="64x2,256x5,256x40", help="comma-separated HIDDENxEPOCHS local-training workloads"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--round-only", type=int, default=0, metavar="N", help="time only the aggregator's round")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "fl_overhead.json"))
    args = parser.parse_args()
    logging.getLogger("flwr").setLevel(logging.ERROR)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # one BLAS thread and one core: both variants compete for nothing
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    if args.round_only:
        with tempfile.TemporaryDirectory() as tmp:
            row = round_only(Path(tmp), args.participants, args.round_only)
        print(json.dumps(row), flush=True)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(row, indent=2))
        print(f"\nthe aggregator's side of one round of {args.participants} updates, median of {args.round_only}\n")
        print("| commitments | ms per round |\n|---|---|")
        print(f"| one by one (one transaction each) | {row['median_one_by_one_ms']:.1f} |")
        print(f"| one batch (one transaction, one state-machine pass) | {row['median_batch_ms']:.1f} |")
        return
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
    print(
        "| local training | Flower FedAvg, no ledger (s) | ledgerml, commitments one by one (s) | "
        "ledgerml, one batch per round (s) | overhead (batch) | ledger ms per round: one by one | batch |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['model']}, {r['epochs']} epochs | {r['median_without_s']:.2f} | {r['median_per_event_s']:.2f} | "
            f"{r['median_with_s']:.2f} | {r['overhead_pct']:+.1f}% | {r['ledger_ms_per_round_per_event']:.1f} | "
            f"{r['ledger_ms_per_round']:.1f} |"
        )


if __name__ == "__main__":
    main()
