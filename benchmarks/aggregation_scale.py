"""Aggregation rules at real model sizes: ledgerml (in memory and streamed from the artifact store) vs Flower.

Each measurement runs in a fresh process: it builds the round's float32 updates (seeded, row by row), notes its
resident memory, runs one rule once, and reports the seconds and the peak resident memory above that point
(``ru_maxrss``), so the inputs themselves are not counted. ledgerml takes the float32 update matrix (in memory)
or the stored safetensors updates (streamed, ``federated.streaming.aggregate_stored``); Flower 1.42 takes the
same updates as ``Message`` replies to its own strategy's ``aggregate_train`` (FedAvg, FedMedian,
FedTrimmedAvg, Krum, MultiKrum, Bulyan; norm clipping has no Flower counterpart). ``digest`` says whether the
in-memory and streamed results are the same bits (what an auditor replaying from the store gets).

Usage: python benchmarks/aggregation_scale.py [--quick] [--cells 10x1000000,20x11000000,...] [--rules a,b]
       [--no-flower-streamed] [--out benchmarks/results/aggregation_scale.json]
The full cells need ~10 GB and many minutes on 2 cores; --quick runs small cells (seconds).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

FULL = "10x1000000,20x11000000,100x1000000,100x10000000s"
QUICK = "10x100000,20x200000,100x20000,100x50000s"
RULES = ["fedavg", "norm_clipped_mean", "median", "trimmed_mean", "krum", "multi_krum", "bulyan"]
FLOWER = {"fedavg", "median", "trimmed_mean", "krum", "multi_krum", "bulyan"}


def updates(n: int, d: int) -> np.ndarray:
    """The round: ``n`` float32 updates of ``d`` parameters, a few of them outliers (seeded)."""
    out = np.empty((n, d), dtype=np.float32)
    for i in range(n):
        out[i] = _row(n, d, i)
    return out


def _row(n: int, d: int, i: int) -> np.ndarray:
    """Update ``i`` of the round (seeded by ``(n, d, i)``; every seventh is 100 times larger)."""
    rng = np.random.default_rng([n, d, i])
    return rng.standard_normal(d, dtype=np.float32) * np.float32(0.01 if i % 7 else 1.0)


def f_of(n: int) -> int:
    """Attackers tolerated, the same for both implementations (what Bulyan allows)."""
    return max(0, (n - 3) // 4)


def params(rule: str, n: int) -> dict[str, Any]:
    """ledgerml's parameters for ``rule`` matching the Flower strategy's."""
    if rule in ("krum", "bulyan"):
        return {"f": f_of(n)}
    if rule == "multi_krum":
        return {"f": f_of(n), "m": n - f_of(n)}
    if rule == "trimmed_mean":
        return {"beta": 0.2}
    return {"clip": 1.0} if rule == "norm_clipped_mean" else {}


def rss_bytes() -> int:
    """Current resident memory of this process."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure(run: Any) -> dict[str, Any]:
    """Seconds and peak resident memory above the current level for one call of ``run``."""
    before = rss_bytes()
    start = time.perf_counter()
    digest = run()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"seconds": seconds, "peak_bytes": max(0, peak - before), "digest": digest}


def _ledgerml_memory(rule: str, n: int, d: int) -> dict[str, Any]:
    from ledgerml.federated.aggregation import aggregate

    matrix = updates(n, d)
    weights = np.full(n, 10.0)
    return measure(lambda: hashlib.sha256(aggregate(rule, matrix, weights, params(rule, n)).delta).hexdigest())


def _ledgerml_streamed(rule: str, n: int, d: int, store_dir: str) -> dict[str, Any]:
    from ledgerml.federated.streaming import aggregate_stored
    from ledgerml.store import LocalStore

    meta = json.loads((Path(store_dir) / "round.json").read_text())
    template = {"w": np.zeros(d, dtype=np.float32)}
    store, weights = LocalStore(store_dir), np.full(n, 10.0)
    run = lambda: aggregate_stored(rule, store, meta["digests"], template, weights, params(rule, n))  # noqa: E731
    return measure(lambda: hashlib.sha256(run().delta).hexdigest())


def _flower(rule: str, n: int, d: int) -> dict[str, Any]:
    import logging

    from flwr.app import Array, ArrayRecord, Message, MetricRecord, RecordDict
    from flwr.serverapp import strategy as fs
    from flwr.supercore.task_identity import TaskIdentity

    logging.getLogger("flwr").setLevel(logging.ERROR)
    TaskIdentity.run_id, TaskIdentity.node_id, TaskIdentity.task_id = 1, 0, 1
    f = f_of(n)
    made = {
        "fedavg": lambda: fs.FedAvg(),
        "median": lambda: fs.FedMedian(),
        "trimmed_mean": lambda: fs.FedTrimmedAvg(beta=0.2),
        "krum": lambda: fs.Krum(num_malicious_nodes=f),
        "multi_krum": lambda: fs.MultiKrum(num_malicious_nodes=f, num_nodes_to_select=n - f),
        "bulyan": lambda: fs.Bulyan(num_malicious_nodes=f),
    }[rule]()
    matrix = updates(n, d)
    replies = []
    for i in range(n):
        content = RecordDict(
            {"arrays": ArrayRecord({"w": Array(matrix[i])}), "metrics": MetricRecord({"num-examples": 10})}
        )
        replies.append(Message(content=content, dst_node_id=i + 1, message_type="train"))
    del matrix
    return measure(lambda: str(made.aggregate_train(1, replies)[0] is not None))


def make_store(n: int, d: int, folder: str) -> None:
    """Write the round's updates as safetensors into a store at ``folder`` (once per streamed cell)."""
    from ledgerml.ml.serialization import to_bytes
    from ledgerml.store import LocalStore

    store = LocalStore(folder, fsync=False)
    digests = []
    for i in range(n):
        digests.append(str(store.put(to_bytes({"w": _row(n, d, i)}))))
    (Path(folder) / "round.json").write_text(json.dumps({"digests": digests}))


def child(args: list[str]) -> None:
    """One measurement, printed as JSON (run in its own process)."""
    kind, rule, n, d = args[0], args[1], int(args[2]), int(args[3])
    if kind == "ledgerml":
        result = _ledgerml_memory(rule, n, d)
    elif kind == "streamed":
        result = _ledgerml_streamed(rule, n, d, args[4])
    else:
        result = _flower(rule, n, d)
    print(json.dumps(result))


def run_child(*args: str) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter."""
    env = {**os.environ, "FLWR_TELEMETRY_ENABLED": "0", "FLWR_DISABLE_UPDATE_CHECK": "1"}
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1][:200]}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def cell_rows(n: int, d: int, streamed: bool, rules: list[str], flower: bool) -> list[dict[str, Any]]:
    """Every rule at one (n, d): ledgerml in memory, ledgerml streamed, Flower."""
    rows = []
    with tempfile.TemporaryDirectory(dir=os.environ.get("LEDGERML_BENCH_TMP")) as folder:
        make_store(n, d, folder)
        for rule in rules:
            row: dict[str, Any] = {"n": n, "d": d, "streamed_cell": streamed, "rule": rule}
            row["ledgerml"] = run_child("ledgerml", rule, str(n), str(d))
            row["streamed"] = run_child("streamed", rule, str(n), str(d), folder)
            if rule in FLOWER and flower:
                row["flower"] = run_child("flower", rule, str(n), str(d))
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def _cell(m: dict[str, Any] | None) -> str:
    if not m:
        return "-"
    if "error" in m:
        return f"failed: {m['error'][:60]}"
    return f"{m['seconds']:.2f} s / {m['peak_bytes'] / 2**30:.2f} GiB"


def print_table(rows: list[dict[str, Any]]) -> None:
    """One Markdown table of every measurement."""
    print(
        "\n| n x d | rule | ledgerml in memory (s / peak above inputs) | ledgerml streamed from the store | "
        "Flower 1.42 | same digest (memory vs streamed) |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        same = r["ledgerml"].get("digest") == r["streamed"].get("digest") and "digest" in r["streamed"]
        label = f"{r['n']} x {r['d']:,}" + (" (streamed cell)" if r["streamed_cell"] else "")
        print(
            f"| {label} | {r['rule']} | {_cell(r['ledgerml'])} | {_cell(r['streamed'])} | "
            f"{_cell(r.get('flower'))} | {'yes' if same else 'NO'} |"
        )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--cells", default=None)
    parser.add_argument("--rules", default=",".join(RULES))
    parser.add_argument("--no-flower-streamed", action="store_true", help="skip Flower on the streamed cell")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "aggregation_scale.json"))
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    for cell in (args.cells or (QUICK if args.quick else FULL)).split(","):
        streamed = cell.endswith("s")
        n, d = (int(v) for v in cell.rstrip("s").split("x"))
        flower = not (streamed and args.no_flower_streamed)
        rows += cell_rows(n, d, streamed, args.rules.split(","), flower)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=2))
    print_table(rows)


if __name__ == "__main__":
    main()
