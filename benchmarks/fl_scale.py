"""A recorded, audited federation on Flower's simulation engine at the largest size ledgerml runs today.

Runs ``ledgerml.federated.workflow.run_federation(mode="simulation")`` (Ray, one virtual SuperNode per
participant) on digits with IID partitions and the softmax model: setup (keys, roles, registered partitions,
task), every round recorded on the embedded ledger, the final model registered, every round audited with the
same ``audit_task`` that ``ledgerml audit task`` runs, then a full ``ledger verify``. Reports wall time per
stage, ledger events, ledger.db and artifact-store size.

With ``--per-round K`` the task samples K participants each round (``[federation] clients_per_round``: a
keyed-hash sample of the task and round, ``federated.sampling``), and the audit checks that every accepted
commitment is in its round's sample. Keys of the simulated participants are written unencrypted (``fl run
--unencrypted``); the script also times one scrypt-encrypted keystore, to show what 1,000 real keys would add.

Usage: nice python benchmarks/fl_scale.py [--participants 1000] [--per-round 100] [--rounds 20]
       [--out benchmarks/results/fl_scale.json]          (small first: --participants 100 --per-round 10 --rounds 3)
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
from ledgerml.home import Home


def folder_bytes(path: Path) -> int:
    """Total size of the files under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def scrypt_seconds_per_key(folder: Path) -> float:
    """Seconds to create one scrypt-encrypted keystore (what each real participant key costs at setup)."""
    from ledgerml.identity import KeyStore

    keys = KeyStore(folder / "scrypt-keys")
    started = time.perf_counter()
    keys.create("one-real-key", "a password of a real key")
    return time.perf_counter() - started


def run(participants: int, per_round: int | None, rounds: int, folder: Path) -> dict[str, Any]:
    """One recorded and audited simulation run; its timings and sizes."""
    home = Home(folder / "home")
    home.init(unencrypted=True)
    config = FederationConfig(
        task_id="scale",
        participants=participants,
        clients_per_round=per_round,
        rounds=rounds,
        partition="iid",
        rule="fedavg",
        epochs=1,
        min_participants=max(1, (per_round or participants) // 2),
    )
    stages, (rounds_done, audit, model_error) = timed_run(home, config)
    with home.open_ledger(as_validator=False) as ledger:
        verify_started = time.perf_counter()
        report = ledger.verify()
        verify_seconds = time.perf_counter() - verify_started
        events = ledger.size
    committed = [int(r["metrics"].get("committed", 0)) for r in rounds_done]
    accuracy = [r["metrics"].get("val_accuracy") for r in rounds_done]
    return {
        "participants": participants,
        "per_round": per_round or participants,
        "rounds": rounds,
        "committed_per_round": committed,
        "rounds_audited_ok": sum(r.ok for r in audit.rounds),
        "rounds_recorded": len(rounds_done),
        "audit_ok": audit.ok,
        "verify_ok": report.ok,
        "model_registration": model_error or "ok",
        "wall_seconds": sum(stages.values()),
        "stage_seconds": stages,
        "verify_seconds": verify_seconds,
        "events": events,
        "ledger_db_bytes": home.ledger_path.stat().st_size,
        "artifact_bytes": folder_bytes(home.artifacts_path),
        "final_val_accuracy": accuracy[-1] if accuracy else None,
    }


def timed_run(home: Home, config: FederationConfig) -> tuple[dict[str, float], tuple[list[Any], Any, str | None]]:
    """``run_federation(mode="simulation")``'s stages one by one, timed; the model's registration may be refused
    (its lineage names every accepted participant's dataset) without stopping the audit."""
    from ledgerml.errors import LedgerMLError
    from ledgerml.federated.runner import register_final_model, require_success, round_history, setup_federation
    from ledgerml.federated.workflow import _train, audit_federation, validate_federation

    stages: dict[str, float] = {}
    mark = time.perf_counter()

    def stage(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        stages[name] = now - mark
        mark = now

    validate_federation(home, config)
    stage("checks")
    setup_federation(home, config, unencrypted=True)
    stage("setting up")
    _train(home, config.task_id, "simulation", None)
    require_success(home, config.task_id, 1)
    stage("training")
    model_error = None
    try:
        register_final_model(home, config.task_id)
    except LedgerMLError as exc:
        model_error = f"{type(exc).__name__}: {exc}"
    stage("registering the model")
    audit = audit_federation(home, config.task_id)
    stage("auditing every round")
    return stages, (round_history(home, config.task_id), audit, model_error)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--participants", type=int, default=1000, help=f"at most {MAX_PARTICIPANTS}")
    parser.add_argument("--per-round", type=int, default=None, help="participants sampled per round [all]")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "fl_scale.json"))
    args = parser.parse_args()
    logging.getLogger("flwr").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        scrypt = scrypt_seconds_per_key(Path(tmp))
        result = run(args.participants, args.per_round, args.rounds, Path(tmp))
        result["scrypt_seconds_per_key"] = scrypt
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    print(
        "\n| participants | per round | rounds | wall time (s) | setup (s) | training (s) | model (s) | audit (s)"
        " | verify (s) | events | ledger.db (MB) | artifacts (MB) | audit | verify |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    s = result["stage_seconds"]
    print(
        f"| {result['participants']} | {result['per_round']} | {result['rounds_recorded']} | "
        f"{result['wall_seconds']:.1f} | "
        f"{s.get('setting up', float('nan')):.1f} | {s.get('training', float('nan')):.1f} | "
        f"{s.get('registering the model', float('nan')):.1f} | {s.get('auditing every round', float('nan')):.1f} | "
        f"{result['verify_seconds']:.2f} | {result['events']:,} | {result['ledger_db_bytes'] / 1e6:.2f} | "
        f"{result['artifact_bytes'] / 1e6:.2f} | {'ok' if result['audit_ok'] else 'FAILED'} | "
        f"{'ok' if result['verify_ok'] else 'FAILED'} |"
    )
    print(
        f"\nrounds audited ok: {result['rounds_audited_ok']} of {result['rounds_recorded']}; committed per round: "
        f"{min(result['committed_per_round'], default=0)}-{max(result['committed_per_round'], default=0)}; "
        f"one scrypt keystore: {scrypt:.2f} s (x {result['participants']} real keys = "
        f"{scrypt * result['participants']:.0f} s); model registration: {result['model_registration']}"
    )


if __name__ == "__main__":
    main()
