"""A recorded, audited federation on Flower's simulation engine at the largest size ledgerml runs today.

Runs ``ledgerml.federated.workflow.run_federation(mode="simulation")`` (Ray, one virtual SuperNode per
participant) on digits with IID partitions and the softmax model: setup (keys, roles, registered partitions,
task), every round recorded on the embedded ledger, the final model registered, every round audited with the
same ``audit_task`` that ``ledgerml audit task`` runs, then a full ``ledger verify``. Reports wall time per
stage, ledger events, ledger.db and artifact-store size.

Issue 19 asks for 1,000 simulated clients with 100 sampled per round. ledgerml has no per-round client
sampling yet (every participant of a task trains every round) and ``federated.config.MAX_PARTICIPANTS`` is
100, so this script measures every participant training every round, at most 100 participants; asking for
more is refused with the reason (see docs/benchmarks.md).

Usage: nice python benchmarks/fl_scale.py [--participants 100] [--rounds 3] [--out benchmarks/results/fl_scale.json]
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
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_agent_register_timeout_ms", "180000")  # a loaded machine starts the agents slowly

from ledgerml.federated.config import MAX_PARTICIPANTS, FederationConfig
from ledgerml.federated.workflow import run_federation
from ledgerml.home import Home


def folder_bytes(path: Path) -> int:
    """Total size of the files under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run(participants: int, rounds: int, folder: Path) -> dict[str, Any]:
    """One recorded and audited simulation run; its timings and sizes."""
    home = Home(folder / "home")
    home.init(unencrypted=True)
    config = FederationConfig(
        task_id="scale",
        participants=participants,
        rounds=rounds,
        partition="iid",
        rule="fedavg",
        epochs=1,
        min_participants=max(1, participants // 2),
    )
    marks: list[tuple[str, float]] = []
    started = time.perf_counter()
    result = run_federation(
        home, config, mode="simulation", unencrypted=True, on_stage=lambda s: marks.append((s, time.perf_counter()))
    )
    total = time.perf_counter() - started
    ends = [*marks[1:], ("", started + total)]
    stages = {name.split(":")[0]: end - start for (name, start), (_, end) in zip(marks, ends, strict=True)}
    stages["checks and lock"] = (marks[0][1] if marks else started + total) - started
    with home.open_ledger(as_validator=False) as ledger:
        verify_started = time.perf_counter()
        report = ledger.verify()
        verify_seconds = time.perf_counter() - verify_started
        events = ledger.size
    return {
        "participants": participants,
        "rounds": rounds,
        "rounds_recorded": len(result.rounds),
        "audit_ok": result.audit.ok,
        "verify_ok": report.ok,
        "wall_seconds": total,
        "stage_seconds": stages,
        "verify_seconds": verify_seconds,
        "events": events,
        "ledger_db_bytes": home.ledger_path.stat().st_size,
        "artifact_bytes": folder_bytes(home.artifacts_path),
        "final_val_accuracy": result.accuracy[-1] if result.accuracy else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--participants", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "fl_scale.json"))
    args = parser.parse_args()
    if args.participants > MAX_PARTICIPANTS:
        parser.error(
            f"at most {MAX_PARTICIPANTS} participants (federated.config.MAX_PARTICIPANTS); ledgerml has no"
            " per-round client sampling yet, so 1,000 clients would all train every round"
        )
    logging.getLogger("flwr").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        result = run(args.participants, args.rounds, Path(tmp))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    print(
        "\n| participants (all train) | rounds | wall time (s) | setup (s) | training (s) | model + audit (s)"
        " | verify (s) | events | ledger.db (MB) | artifacts (MB) | audit | verify |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    s = result["stage_seconds"]
    print(
        f"| {result['participants']} | {result['rounds_recorded']} | {result['wall_seconds']:.1f} | "
        f"{s.get('setting up', float('nan')):.1f} | {s.get('training', float('nan')):.1f} | "
        f"{s.get('registering the model and auditing every round', float('nan')):.1f} | "
        f"{result['verify_seconds']:.2f} | {result['events']:,} | {result['ledger_db_bytes'] / 1e6:.2f} | "
        f"{result['artifact_bytes'] / 1e6:.2f} | {'ok' if result['audit_ok'] else 'FAILED'} | "
        f"{'ok' if result['verify_ok'] else 'FAILED'} |"
    )


if __name__ == "__main__":
    main()
