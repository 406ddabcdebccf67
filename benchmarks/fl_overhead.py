"""Wall time of the same federation with and without ledger recording, side by side in one run.

Without: Flower's own FedAvg strategy and a ClientApp that trains the same numpy model on the same data and
returns its arrays. With: ledgerml's LedgerStrategy and ClientApp (safetensors encoding, signed
commitments, validation, artifact store with fsync, the rule, RoundFinalized, all on the SQLite ledger).
Both run through the same in-process Grid with the same server-side evaluation, alternating, 3 times each.
The ledger runs twice: a round's commitments appended one event at a time, and in one batch (one
transaction, one state-machine pass; the default).

The ``10M`` workload is the same numpy MLP widened to 133,333 hidden units (9,999,985 float64 parameters, an
80 MB update), trained by fixed-cost clients: each client's round takes exactly ``--train-seconds`` (default
1.0 s: about one local epoch over 1,000 examples of a 10 M-parameter model, 6 FLOP per parameter and example,
on a 60 GFLOP/s device) by sleeping out whatever its update computation (global + a small seeded step) left,
in both variants alike. Everything the ledger does with the 80 MB arrays is real; only the gradient steps
are simulated. The in-process Grid runs the 10 clients one after another, so a round trains for 10 x that
cost. (The MLP's ``MAX_HIDDEN`` config guard is lifted for this workload only.)

``--round-only N`` times only the aggregator's side of one round (screen, store, append the commitments,
validate, aggregate, finalize) on the same pre-trained replies, N times per variant, alternating, each on a
fresh copy of the ledger home: no training, so the difference between one-by-one and batched commitments is
not buried in training-time noise. ``--round-workload 10M`` does the same on 10 M-parameter replies.

Usage: python benchmarks/fl_overhead.py [--participants 10 --rounds 20 --workloads 64x2,256x5,256x40,10M]
       python benchmarks/fl_overhead.py --round-only 30 [--participants 10] [--round-workload 64|10M]
"""

from __future__ import annotations

import argparse
import contextlib
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

from ledgerml.federated import config as federation_config
from ledgerml.federated.apps import run_in_process, run_server
from ledgerml.federated.coordinator import TaskCoordinator
from ledgerml.federated.flower import LocalGrid, local_contexts, make_client_app
from ledgerml.federated.participant import Participant
from ledgerml.federated.runner import (
    FederationConfig,
    load_participant,
    load_plan,
    setup_federation,
    validation_evaluator,
)
from ledgerml.home import Home
from ledgerml.ml.models import build_model
from ledgerml.ml.serialization import Weights

BIG_HIDDEN = 133_333
"""Hidden units of the 10 M-parameter MLP: 64 x 133,333 + 133,333 + 133,333 x 10 + 10 = 9,999,985 parameters."""


def fixed_cost_update(base: Weights, seed: int, round_: int, seconds: float) -> Weights:
    """A fixed-cost client's "training": global + a small seeded step on every array, then sleep until
    ``seconds`` have passed since the call (the same in both variants; the arrays are real)."""
    started = time.perf_counter()
    step = float(np.random.default_rng([seed, round_]).normal(0.0, 1e-3))
    update = {name: base[name] + step for name in sorted(base)}
    time.sleep(max(0.0, seconds - (time.perf_counter() - started)))
    return update


class FixedCostParticipant(Participant):
    """A ledgerml participant whose local training is ``fixed_cost_update`` (everything else is the real code)."""

    train_seconds: float = 1.0

    def local_update(
        self, base: Weights, spec: dict[str, Any], round_: int, rng: np.random.Generator
    ) -> tuple[Weights, float]:
        return fixed_cost_update(base, self.seed, round_, self.train_seconds), 0.0


def fixed_cost_run(home: Home, task_id: str, seconds: float) -> None:
    """The ledgerml run (the real ServerApp side and ClientApp) with fixed-cost participants."""
    count = len(load_plan(home, task_id).participants)

    def load(context: Context) -> Participant:
        me = load_participant(home, task_id, int(context.node_config["partition-id"]))
        fixed = FixedCostParticipant(**{name: getattr(me, name) for name in me.__dataclass_fields__})
        fixed.train_seconds = seconds
        return fixed

    with LocalGrid(make_client_app(load), local_contexts(count, {"home": str(home.path), "task": task_id})) as grid:
        run_server(grid, home, task_id)


def plain_run(
    home: Home, task_id: str, spec: dict[str, Any], rounds: int, fixed: float | None = None
) -> tuple[float, float]:
    """The federation without any ledger: Flower FedAvg over a plain ClientApp (training for ``fixed`` seconds
    per client with ``fixed_cost_update`` when given). Timed from before it loads the participants' data and
    the validation set, as the ledgerml run is (which also loads keys, opens the ledger and joins)."""
    started, cpu = time.perf_counter(), time.process_time()
    count = len(load_plan(home, task_id).participants)
    people = [load_participant(home, task_id, i) for i in range(count)]
    evaluate = validation_evaluator(home, task_id)
    app = ClientApp()

    @app.train()
    def train(message: Message, context: Context) -> Message:
        me = people[int(context.node_config["partition-id"])]
        base = {k: v.numpy() for k, v in message.content["arrays"].items()}
        round_ = int(message.content["config"]["server-round"])
        if fixed is not None:
            weights = fixed_cost_update(base, me.seed, round_, fixed)
        else:
            model = build_model(spec)
            model.set_weights(base)
            rng = np.random.default_rng([me.seed, round_])
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
        strategy.start(
            grid,
            ArrayRecord({k: Array(initial[k]) for k in sorted(initial)}),
            num_rounds=rounds,
            evaluate_fn=lambda r, arrays: MetricRecord(evaluate({k: v.numpy() for k, v in arrays.items()})),
        )
        return time.perf_counter() - started, time.process_time() - cpu


def parse_workload(text: str) -> tuple[int, int, float | None]:
    """``HIDDENxEPOCHS`` (real local training) or ``10M`` (fixed-cost clients): hidden units, epochs, seconds."""
    if text.strip().upper() == "10M":
        return BIG_HIDDEN, 1, -1.0
    hidden, epochs = (int(v) for v in text.split("x"))
    return hidden, epochs, None


def _ledger_run(home: Home, task_id: str, fixed: float | None) -> tuple[float, float]:
    """Wall and CPU seconds of the ledgerml run (CPU time leaves out the fixed-cost clients' sleep)."""
    started, cpu = time.perf_counter(), time.process_time()
    if fixed is None:
        run_in_process(home, task_id)
    else:
        fixed_cost_run(home, task_id, fixed)
    return time.perf_counter() - started, time.process_time() - cpu


def measure(
    home: Home, tag: str, participants: int, rounds: int, workload: str, repeat: int, train_seconds: float
) -> dict[str, Any]:
    """Plain Flower, ledgerml one by one and ledgerml batched, alternating ``repeat`` times: seconds and medians."""
    hidden, epochs, fixed = parse_workload(workload)
    fixed = None if fixed is None else train_seconds
    times: dict[str, list[float]] = {"plain": [], "single": [], "batch": []}
    cpu: dict[str, list[float]] = {"plain": [], "single": [], "batch": []}
    spec = {"type": "mlp", "hidden": hidden, "n_features": 64, "n_classes": 10, "seed": 0}
    for i in range(repeat):
        for variant, runs in times.items():
            config = _config(f"{tag}-{variant}-{i}", participants, rounds, hidden, epochs)
            setup_federation(home, config, unencrypted=True)
            if variant == "plain":
                wall, used = plain_run(home, config.task_id, spec, rounds, fixed)
            else:
                TaskCoordinator.batch_commitments = variant == "batch"
                wall, used = _ledger_run(home, config.task_id, fixed)
            runs.append(wall)
            cpu[variant].append(used)
    TaskCoordinator.batch_commitments = True
    a, c, b = (statistics.median(times[v]) for v in ("plain", "single", "batch"))
    model = f"mlp hidden={hidden}" if fixed is None else f"mlp hidden={hidden} (9,999,985 params)"
    return {
        "participants": participants,
        "rounds": rounds,
        "model": model,
        "epochs": epochs,
        "training": f"{epochs} epochs" if fixed is None else f"fixed {fixed:g} s per client",
        "without_ledger_s": times["plain"],
        "with_ledger_per_event_s": times["single"],
        "with_ledger_s": times["batch"],
        "median_without_s": a,
        "median_per_event_s": c,
        "median_with_s": b,
        "overhead_pct": 100 * (b - a) / a,
        "ledger_ms_per_round": 1000 * (b - a) / rounds,
        "ledger_ms_per_round_per_event": 1000 * (c - a) / rounds,
        "cpu_s": cpu,
        "ledger_cpu_ms_per_round": 1000 * (statistics.median(cpu["batch"]) - statistics.median(cpu["plain"])) / rounds,
    }


FLOOR_PARTS = ("sha256_ms", "sign_ms", "recover_ms", "sqlite_ms")
"""The floor's parts, each timed alone: hashing the updates, the clients' signatures, their recoveries, the
one transaction."""


def floor_round(participants: int, update_bytes: int, repeat: int, work: Path) -> dict[str, Any]:
    """The least any design with one signed, durable commitment per update pays per round on this machine:
    SHA-256 of the N update byte strings, N client EIP-191 signatures over a 32-byte commitment digest naming
    the update's digest, N signature recoveries (each checked against its signer), and one SQLite
    transaction (WAL, ``synchronous=normal``, the ledger's default) holding N small rows (round, participant,
    update digest, signature). Nothing else (no event encoding, no state machine, no receipts, no storing of
    the update bytes, no file creation). Medians over ``repeat`` rounds, milliseconds; plus what creating one
    empty file costs in ``work`` (not in the floor: the artifact store and the receipts create files)."""
    import hashlib
    import sqlite3

    from ledgerml.identity import Identity, recover_signer

    keys = [Identity.generate(f"floor{i}") for i in range(participants)]
    updates = [np.full(update_bytes, i % 251, dtype=np.uint8).tobytes() for i in range(participants)]
    conn = sqlite3.connect(work / "floor.sqlite", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("CREATE TABLE IF NOT EXISTS commits (round INTEGER, participant TEXT, digest BLOB, signature BLOB)")
    parts: dict[str, list[float]] = {name: [] for name in FLOOR_PARTS}
    cpu: list[float] = []
    for round_ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        digests = [hashlib.sha256(update).digest() for update in updates]
        hashed = time.perf_counter()
        commitments = [hashlib.sha256(round_.to_bytes(8, "big") + d).digest() for d in digests]
        signatures = [key.sign_digest(c) for key, c in zip(keys, commitments, strict=True)]
        signed = time.perf_counter()
        if any(recover_signer(c, s) != k.address for k, c, s in zip(keys, commitments, signatures, strict=True)):
            raise AssertionError("a floor signature does not recover its signer")
        recovered = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        rows = [(round_, k.address, d, s) for k, d, s in zip(keys, digests, signatures, strict=True)]
        conn.executemany("INSERT INTO commits VALUES (?, ?, ?, ?)", rows)
        conn.execute("COMMIT")
        done = time.perf_counter()
        cpu.append(1000 * (time.process_time() - cpu_started))
        marks = (started, hashed, signed, recovered, done)
        for name, a, b in zip(FLOOR_PARTS, marks[:-1], marks[1:], strict=True):
            parts[name].append(1000 * (b - a))
    conn.close()
    row: dict[str, Any] = {name: statistics.median(values) for name, values in parts.items()}
    row["floor_ms"] = sum(row[name] for name in FLOOR_PARTS)
    row["floor_rounds_ms"] = [sum(parts[n][i] for n in FLOOR_PARTS) for i in range(repeat)]
    row["floor_cpu_ms"] = statistics.median(cpu)
    row["file_create_ms"] = _file_create_ms(work)
    return row


def _file_create_ms(work: Path, count: int = 50) -> float:
    """Median milliseconds to create (open, close) one new empty file in ``work`` (then removed)."""
    folder = Path(tempfile.mkdtemp(dir=work))
    times = []
    for i in range(count):
        started = time.perf_counter()
        os.close(os.open(folder / f"f{i}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        times.append(1000 * (time.perf_counter() - started))
    for i in range(count):
        (folder / f"f{i}").unlink()
    folder.rmdir()
    return statistics.median(times)


def with_budget(row: dict[str, Any], workload: str, work: Path, participants: int) -> dict[str, Any]:
    """The floor for ``workload``'s update size, beside Flower's per-round time and issue 19's budget for it (5% on
    the light HIDDENxEPOCHS workloads, 1% at 10 M parameters), measured now, in the process that ran ``row``."""
    hidden, _, fixed = parse_workload(workload)
    floor = floor_round(participants, update_size(hidden), max(row["rounds"], 5), work)
    flower_ms = 1000 * row["median_without_s"] / row["rounds"]
    floor["update_bytes"] = update_size(hidden)
    floor["flower_ms_per_round"] = flower_ms
    floor["budget_pct"] = 1.0 if fixed is not None else 5.0
    floor["budget_ms_per_round"] = flower_ms * floor["budget_pct"] / 100
    floor["flower_cpu_ms_per_round"] = 1000 * statistics.median(row["cpu_s"]["plain"]) / row["rounds"]
    floor["budget_cpu_ms_per_round"] = floor["flower_cpu_ms_per_round"] * floor["budget_pct"] / 100
    return floor


def update_size(hidden: int) -> int:
    """Bytes of one update of the MLP with ``hidden`` units (its canonical safetensors encoding)."""
    from ledgerml.ml.serialization import to_bytes

    spec = {"type": "mlp", "hidden": hidden, "n_features": 64, "n_classes": 10, "seed": 0}
    return len(to_bytes(build_model(spec).get_weights()))


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


def round_cost(
    template: Path,
    work: Path,
    task_id: str,
    replies: list[Any],
    batch: bool,
    profiler: Any = None,
    cpu: list[float] | None = None,
    faults: list[int] | None = None,
) -> float:
    """Seconds the aggregator takes to process one round of ``replies`` on a fresh copy of ``template`` (its CPU
    seconds are appended to ``cpu``, its minor page faults - first touches of new memory, which this VM's kernel
    makes costly - to ``faults``, when given)."""
    import resource
    import shutil

    from ledgerml.federated.coordinator import TaskCoordinator as Coordinator

    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(template, work)
    home = Home(work)
    with home.open_ledger() as ledger:
        coordinator = Coordinator(ledger, home.store(), home.identity(load_plan(home, task_id).aggregator), task_id)
        coordinator.batch_commitments = batch
        if profiler is not None:
            profiler.enable()
        touched = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        started, cpu_started = time.perf_counter(), time.process_time()
        outcome = coordinator.process_round(replies)
        elapsed = time.perf_counter() - started
        if cpu is not None:
            cpu.append(time.process_time() - cpu_started)
        if faults is not None:
            faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - touched)
        if profiler is not None:
            profiler.disable()
    assert outcome.status == "ok" and len(outcome.accepted) == len(replies)
    return elapsed


def flower_round_cost(replies: list[Any]) -> float:
    """Seconds plain Flower's server spends on the same round: FedAvg's ``aggregate_arrayrecords`` over the
    replies' arrays as ArrayRecords (what its ``aggregate_train`` does with them)."""
    from flwr.serverapp.strategy.strategy_utils import aggregate_arrayrecords

    from ledgerml.ml.serialization import from_bytes

    records = [
        RecordDict(
            {
                "arrays": ArrayRecord({k: Array(v) for k, v in from_bytes(r.update).items()}),
                "metrics": MetricRecord({"num-examples": 100}),
            }
        )
        for r in replies
    ]
    started = time.perf_counter()
    aggregate_arrayrecords(records, "num-examples")
    return time.perf_counter() - started


def _round_replies(home: Home, participants: int, hidden: int, fixed: bool) -> list[Any]:
    """One round of signed replies from every participant of the planned task ``round`` (joined first)."""
    from ledgerml.federated.coordinator import Reply

    people: list[Participant] = [load_participant(home, "round", i) for i in range(participants)]
    if fixed:
        people = [FixedCostParticipant(**{k: getattr(p, k) for k in p.__dataclass_fields__}) for p in people]
        for person in people:
            person.train_seconds = 0.0
    with home.open_ledger() as ledger:
        for person in people:
            ledger.append(person.join(ledger.ledger_id, "round", ledger.next_nonce(person.address)))
        coordinator = TaskCoordinator(ledger, home.store(), home.identity(load_plan(home, "round").aggregator), "round")
        train_config, spec = coordinator.train_config(), coordinator.model_spec()
        base = coordinator.store.get(coordinator.global_digest())
    replies = []
    for person in people:
        data, event, _ = person.train(base, train_config, spec)
        replies.append(Reply(person.address, event.to_dict(), data))
    return replies


def round_only(
    tmp: Path, participants: int, repeat: int, workload: str, profile: bool, cold: bool = False
) -> dict[str, Any]:
    """One round's aggregator-side cost with commitments appended one by one and in one batch, beside plain
    Flower's FedAvg aggregation of the same arrays; with ``profile``, a cProfile table of the batched rounds.
    ``cold``: each fresh copy of the home has an empty write-ahead log, so the round's first write starts a new
    one, which SQLite syncs to disk even at ``synchronous=normal`` (a one-time cost of each process that opens
    the ledger, 5-30 ms on the shared machine on 2026-12-02; later commits of a running aggregator append)."""
    hidden, _, fixed = parse_workload(workload)
    template = Path(tmp) / "template"
    home = Home(template)
    home.init(unencrypted=True)
    setup_federation(home, _config("round", participants, 1, hidden, 1), unencrypted=True)
    single, batch, flower, batch_cpu, batch_faults = [], [], [], [], []
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
    with contextlib.ExitStack() as held:
        if not cold:  # the template's ledger held open while the joins are written and while it is copied: each
            held.enter_context(home.open_ledger()).state()  # copy's WAL holds frames, as a running aggregator's
        replies = _round_replies(home, participants, hidden, fixed is not None)
        for _ in range(repeat):
            single.append(round_cost(template, Path(tmp) / "work", "round", replies, False))
            batch.append(
                round_cost(template, Path(tmp) / "work", "round", replies, True, profiler, batch_cpu, batch_faults)
            )
            flower.append(flower_round_cost(replies))
    row = {
        "participants": participants,
        "workload": workload,
        "update_bytes": len(replies[0].update),
        "round_ms_one_by_one": [1000 * t for t in single],
        "round_ms_batch": [1000 * t for t in batch],
        "round_ms_flower": [1000 * t for t in flower],
        "median_one_by_one_ms": 1000 * statistics.median(single),
        "median_batch_ms": 1000 * statistics.median(batch),
        "median_batch_cpu_ms": 1000 * statistics.median(batch_cpu),
        "median_batch_minor_faults": statistics.median(batch_faults),
        "median_flower_ms": 1000 * statistics.median(flower),
    }
    if profiler is not None:
        row["profile"] = profile_rows(profiler, repeat)
    return row


def profile_rows(profiler: Any, rounds: int, top: int = 18) -> list[dict[str, Any]]:
    """The functions with the most own time (cProfile ``tottime``), in ms per round."""
    import pstats

    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    rows = []
    for (path, line, name), (_, calls, own, cumulative, _) in stats.items():
        where = f"{Path(path).name}:{line}({name})" if line else name
        rows.append(
            {
                "function": where,
                "calls_per_round": calls / rounds,
                "own_ms": 1000 * own / rounds,
                "cumulative_ms": 1000 * cumulative / rounds,
            }
        )
    return sorted(rows, key=lambda r: -r["own_ms"])[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--participants", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument(
        "--workloads",
        default="64x2,256x5,256x40,10M",
        help="comma-separated HIDDENxEPOCHS local-training workloads, and 10M (fixed-cost clients)",
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--train-seconds", type=float, default=1.0, help="a 10M client's fixed training time")
    parser.add_argument("--big-rounds", type=int, default=3, help="rounds of the 10M workload")
    parser.add_argument("--round-only", type=int, default=0, metavar="N", help="time only the aggregator's round")
    parser.add_argument("--round-workload", default="64x1", help="the --round-only model: HIDDENx1 or 10M")
    parser.add_argument("--profile", action="store_true", help="with --round-only: a cProfile table")
    parser.add_argument(
        "--cold", action="store_true", help="with --round-only: each round's first write also starts a new WAL"
    )
    parser.add_argument(
        "--baseline-src", default="", help="with --round-only: also run it on this src tree, alternating (A/B)"
    )
    parser.add_argument("--pairs", type=int, default=3, help="with --baseline-src: alternating runs of each")
    parser.add_argument(
        "--work-dir", default="", help="where the temporary ledger homes go (default: the system temp folder)"
    )
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "fl_overhead.json"))
    args = parser.parse_args()
    logging.getLogger("flwr").setLevel(logging.ERROR)
    federation_config.MAX_HIDDEN = max(federation_config.MAX_HIDDEN, BIG_HIDDEN)  # the 10M workload's MLP
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # one BLAS thread and one core: both variants compete for nothing
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    if args.round_only and args.baseline_src:
        ab_round_only(args)
        return
    if args.round_only:
        with tempfile.TemporaryDirectory(dir=args.work_dir or None) as tmp:
            row = round_only(
                Path(tmp), args.participants, args.round_only, args.round_workload, args.profile, args.cold
            )
            row["cold"] = args.cold
            row["floor"] = floor_round(args.participants, row["update_bytes"], max(args.round_only, 5), Path(tmp))
        _write(args.out, row)
        print_round_only(row, args.round_only)
        return
    rows = []
    with tempfile.TemporaryDirectory(dir=args.work_dir or None) as tmp:
        for n, workload in enumerate(args.workloads.split(",")):
            home = Home(Path(tmp) / f"home{n}")
            home.init(unencrypted=True)
            rounds = args.big_rounds if parse_workload(workload)[2] is not None else args.rounds
            rows.append(measure(home, f"w{n}", args.participants, rounds, workload, args.repeat, args.train_seconds))
            rows[-1]["floor"] = with_budget(rows[-1], workload, Path(tmp), args.participants)
            print(json.dumps(rows[-1]), flush=True)
    _write(args.out, rows)
    print_table(rows, args.participants, args.repeat)
    print_floor(rows)


def ab_round_only(args: argparse.Namespace) -> None:
    """``--round-only`` on this tree and on ``--baseline-src``, alternating ``--pairs`` times, one process each;
    beside them, plain Flower's aggregation and the floor, measured in the same processes."""
    import subprocess
    import sys

    rows: dict[str, list[dict[str, Any]]] = {"baseline": [], "this tree": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.pairs):
            for name, src in (("baseline", args.baseline_src), ("this tree", "")):
                out = str(Path(tmp) / "row.json")
                command = [sys.executable, __file__, "--round-only", str(args.round_only), "--out", out]
                command += ["--participants", str(args.participants), "--round-workload", args.round_workload]
                command += ["--work-dir", args.work_dir] if args.work_dir else []
                command += ["--cold"] if args.cold else []
                env = {**os.environ, "PYTHONPATH": src} if src else dict(os.environ)
                subprocess.run(command, check=True, env=env, capture_output=True)
                rows[name].append(json.loads(Path(out).read_text()))
    _write(args.out, rows)
    print(
        f"\nload average {os.getloadavg()[0]:.2f}; --round-only {args.round_only} ({args.round_workload}), batched "
        f"commitments, {args.pairs} alternating processes each{', cold' if args.cold else ''}; median ms per round "
        "of each process\n"
    )
    print(
        "| tree | ms per round (each process) | median | CPU ms per round (each process) | median | "
        "minor page faults per round (median) | plain Flower FedAvg (median) | floor (median) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, found in rows.items():
        values = [r["median_batch_ms"] for r in found]
        cpu = [r.get("median_batch_cpu_ms", float("nan")) for r in found]
        faults = [r.get("median_batch_minor_faults", float("nan")) for r in found]
        flower = statistics.median(r["median_flower_ms"] for r in found)
        floor = statistics.median(r["floor"]["floor_ms"] for r in found)
        print(
            f"| {name} | {', '.join(f'{v:.1f}' for v in values)} | {statistics.median(values):.1f} | "
            f"{', '.join(f'{v:.1f}' for v in cpu)} | {statistics.median(cpu):.1f} | "
            f"{statistics.median(faults):,.0f} | {flower:.1f} | {floor:.2f} |"
        )


def _write(out: str, data: Any) -> None:
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(data, indent=2))


def print_round_only(row: dict[str, Any], repeat: int) -> None:
    """The --round-only table (and the profile table when there is one)."""
    print(
        f"\nload average {os.getloadavg()[0]:.2f}; the aggregator's side of one round of {row['participants']} "
        f"updates of {row['update_bytes']:,} bytes ({row['workload']}), median of {repeat}; "
        f"{'cold (each round starts a new WAL, synced)' if row.get('cold') else 'warm (the WAL holds frames)'}\n"
    )
    print("| the round's server side | ms per round |\n|---|---|")
    print(f"| plain Flower: FedAvg's aggregate_arrayrecords on the same arrays | {row['median_flower_ms']:.1f} |")
    print(f"| ledgerml, commitments one by one (one transaction each) | {row['median_one_by_one_ms']:.1f} |")
    print(f"| ledgerml, one batch (one transaction, one state-machine pass) | {row['median_batch_ms']:.1f} |")
    print(f"| ledgerml, one batch: CPU time | {row['median_batch_cpu_ms']:.1f} |")
    print(f"| ledgerml, one batch: minor page faults (count, not ms) | {row['median_batch_minor_faults']:,.0f} |")
    f = row["floor"]
    parts = ", ".join(f"{name.removesuffix('_ms')} {f[name]:.2f}" for name in FLOOR_PARTS)
    print(f"| floor: one signed, durable commitment per update, both sides ({parts}) | {f['floor_ms']:.2f} |")
    print(f"| (not in the floor) creating one empty file in the work folder | {f['file_create_ms']:.3f} |")
    if "profile" in row:
        print("\n| function (cProfile, batched rounds) | calls per round | own ms per round | cumulative ms |")
        print("|---|---|---|---|")
        for r in row["profile"]:
            print(f"| `{r['function']}` | {r['calls_per_round']:.0f} | {r['own_ms']:.2f} | {r['cumulative_ms']:.2f} |")


def print_floor(rows: list[dict[str, Any]]) -> None:
    """The floor table: what one signed, durable commitment per update costs at least, against the budget."""
    print(
        "\n| model, local training | update bytes | Flower ms per round | budget | budget ms per round | "
        "floor ms per round (sha256 + sign + recover + one sqlite txn) | floor / budget | "
        "ledger ms per round now (batch) | one new file here (ms) | CPU: Flower ms per round, budget, floor, "
        "ledger now |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        f = r["floor"]
        parts = " + ".join(f"{f[name]:.2f}" for name in FLOOR_PARTS)
        print(
            f"| {r['model']}, {r['training']} | {f['update_bytes']:,} | {f['flower_ms_per_round']:.1f} | "
            f"{f['budget_pct']:g}% | {f['budget_ms_per_round']:.2f} | {f['floor_ms']:.2f} ({parts}) | "
            f"{f['floor_ms'] / f['budget_ms_per_round']:.2f} | {r['ledger_ms_per_round']:.1f} | "
            f"{f['file_create_ms']:.3f} | {f['flower_cpu_ms_per_round']:.1f}, {f['budget_cpu_ms_per_round']:.2f}, "
            f"{f['floor_cpu_ms']:.2f}, {r['ledger_cpu_ms_per_round']:.1f} |"
        )


def print_table(rows: list[dict[str, Any]], participants: int, repeat: int) -> None:
    """The whole-federation table."""
    print(
        f"\nload average {os.getloadavg()[0]:.2f}; {participants} participants, median of {repeat}; durability: "
        "synchronous=normal (no per-object fsync); pinned to one core, one BLAS thread\n"
    )
    print(
        "| model, local training | rounds | Flower FedAvg, no ledger (s) | ledgerml, commitments one by one (s) | "
        "ledgerml, one batch per round (s) | overhead (batch) | ledger ms per round: one by one | batch | "
        "ledger CPU ms per round (batch) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['model']}, {r['training']} | {r['rounds']} | {r['median_without_s']:.2f} | "
            f"{r['median_per_event_s']:.2f} | {r['median_with_s']:.2f} | {r['overhead_pct']:+.1f}% | "
            f"{r['ledger_ms_per_round_per_event']:.1f} | {r['ledger_ms_per_round']:.1f} | "
            f"{r['ledger_cpu_ms_per_round']:.1f} |"
        )


if __name__ == "__main__":
    main()
