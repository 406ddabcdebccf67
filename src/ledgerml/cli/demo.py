"""``ledgerml demo``: the core ledger scenario end to end on the embedded SQLite ledger.

Five hospitals register datasets, a trainer registers a model with lineage, forbidden actions are
rejected, proofs are made and checked offline, the ledger is audited, and a tampered copy is caught.
(The federated-learning scenario builds on this once ``ledgerml.federated`` lands.)
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import AlreadyExists, RejectedEvent
from ..events import DatasetRegistered, ModelRegistered, RoleGranted
from ..home import Home
from ..identity import Identity
from ..ledger.base import Ledger, LedgerBackend, sqlite_url
from ..ledger.proofs import ConsistencyProof, InclusionProof, verify_consistency_proof, verify_inclusion_proof
from ..types import Role
from ._common import HomeOption, JsonOption, console, emit_json, err_console, table

HOSPITALS = ["st-mary", "north-general", "riverside", "lakeview", "hillcrest"]


def _file_digest(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def _write_partition(path: Path, rng: random.Random, rows: int, shift: float) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["age", "systolic_bp", "cholesterol", "label"])
        for _ in range(rows):
            label = int(rng.random() < 0.3 + shift / 10)
            writer.writerow(
                [
                    rng.randint(20, 90),
                    round(rng.gauss(120 + 15 * label + shift, 12), 1),
                    round(rng.gauss(190 + 30 * label, 25), 1),
                    label,
                ]
            )


def _train_centroids(paths: list[Path]) -> dict[str, Any]:
    """A tiny nearest-centroid model in pure Python, enough to have a real artifact with real lineage."""
    sums: dict[int, list[float]] = {0: [0.0, 0.0, 0.0], 1: [0.0, 0.0, 0.0]}
    counts = {0: 0, 1: 0}
    for path in paths:
        with path.open() as handle:
            for row in csv.DictReader(handle):
                label = int(row["label"])
                for i, key in enumerate(("age", "systolic_bp", "cholesterol")):
                    sums[label][i] += float(row[key])
                counts[label] += 1
    return {
        "type": "nearest-centroid",
        "features": ["age", "systolic_bp", "cholesterol"],
        "centroids": {str(k): [round(v / max(counts[k], 1), 6) for v in sums[k]] for k in sums},
    }


def demo(
    home: HomeOption = None,
    seed: Annotated[int, typer.Option(help="Random seed for the synthetic hospital data.")] = 7,
    json_out: JsonOption = False,
) -> None:
    """Run the core scenario on a fresh embedded ledger (a temporary folder unless --home is given)."""
    started = time.perf_counter()
    keep = home is not None
    root = Path(home) if home is not None else Path(tempfile.mkdtemp(prefix="ledgerml-demo-"))
    target = Home(root)
    if target.exists():
        raise AlreadyExists(f"{target.path} holds a ledger home already; the demo needs a fresh folder")
    say = (lambda *a, **k: None) if json_out else console.print
    say("[bold]ledgerml demo[/] - core ledger scenario (embedded SQLite ledger)")
    say(f"  home: {target.path}" + ("" if keep else " (temporary; pass --home DIR to keep it)"))
    err_console.print("[yellow]note[/]: demo identities are stored UNENCRYPTED; never do this with real keys")

    _, admin = target.init(admin_name="admin", unencrypted=True, ledger_name="demo", block_size=8)
    store = target.keys
    hospitals = [store.create(name, None, unencrypted=True) for name in HOSPITALS]
    trainer = store.create("trainer", None, unencrypted=True)
    auditor = store.create("auditor", None, unencrypted=True)
    ledger = Ledger.open(target.ledger_url(), validator=admin)
    summary: dict[str, Any] = {"home": str(target.path)}
    try:
        grants = [RoleGranted(subject=h.address, role=Role.DATA_OWNER) for h in hospitals]
        grants += [
            RoleGranted(subject=trainer.address, role=Role.TRAINER),
            RoleGranted(subject=auditor.address, role=Role.AUDITOR),
        ]
        ledger.submit_batch(admin, grants)
        say(f"1. admin granted {len(grants)} roles in one batch")

        data_dir = target.path / "demo-data"
        data_dir.mkdir()
        rng = random.Random(seed)
        dataset_ids, paths = [], []
        for index, hospital in enumerate(hospitals):
            path = data_dir / f"{hospital.name}.csv"
            _write_partition(path, rng, rows=200 + 40 * index, shift=float(index))
            dataset_id = _file_digest(path)
            ledger.submit(
                hospital,
                DatasetRegistered(
                    dataset_id=dataset_id,
                    name=f"{hospital.name} cohort",
                    uri=path.as_uri(),
                    license="research-only",
                    consent_note="synthetic demo data",
                ),
            )
            dataset_ids.append(dataset_id)
            paths.append(path)
        say(
            f"2. five hospitals registered their datasets ({sum(p.stat().st_size for p in paths)} bytes, "
            "digests only on the ledger)"
        )

        model_path = target.path / "demo-model.json"
        model_path.write_text(json.dumps(_train_centroids(paths), sort_keys=True, indent=2))
        model_id = _file_digest(model_path)
        model_receipt = ledger.submit(
            trainer,
            ModelRegistered(model_id=model_id, name="cardio-risk v1", uri=model_path.as_uri(), datasets=dataset_ids),
        )
        say(f"3. trainer registered model {model_id[:23]}... trained on all five datasets")

        rejections = _show_rejections(ledger, hospitals[0], model_id, dataset_ids[0])
        for what, error in rejections:
            say(f"4. rejected as expected: {what} -> [red]{error}[/]")

        block = ledger.seal() or ledger.block()
        proof = InclusionProof.from_dict(json.loads(json.dumps(ledger.inclusion_proof(model_receipt.seq).to_dict())))
        event = verify_inclusion_proof(proof, {admin.address})
        consistency = ledger.consistency_proof(0)
        verify_consistency_proof(ConsistencyProof.from_dict(consistency.to_dict()), {admin.address})
        say(
            f"5. inclusion proof of the model registration against block {block.height} "
            f"({len(proof.path)} hashes) and consistency proof block 0 -> {block.height} verified offline"
        )

        report = ledger.verify()
        say(
            f"6. auditor verified the ledger: {report.events_checked} events, {report.blocks_checked} blocks, "
            f"{'OK' if report.ok else 'FAILED: ' + str(report.problem)}"
        )

        tampered_report = _tampered_copy_report(target.ledger_path, model_receipt.seq)
        say(
            f"7. a copy with one payload edited in SQL is caught: {tampered_report.location}: {tampered_report.problem}"
        )
        summary.update(
            {
                "events": report.events_checked,
                "blocks": report.blocks_checked,
                "verified": report.ok,
                "model_id": model_id,
                "model_event": event.id,
                "datasets": len(dataset_ids),
                "rejections": [{"attempt": w, "error": e} for w, e in rejections],
                "tamper_detected": not tampered_report.ok,
                "tamper_location": tampered_report.location,
                "seconds": round(time.perf_counter() - started, 2),
            }
        )
    finally:
        ledger.close()
        if not keep:
            shutil.rmtree(target.path, ignore_errors=True)
    ok = summary["verified"] and summary["tamper_detected"]
    if json_out:
        emit_json(summary)
    else:
        table("demo summary", ["what", "value"], [[k, v] for k, v in summary.items() if k != "rejections"])
    if not ok:
        raise typer.Exit(1)


def _show_rejections(
    ledger: LedgerBackend, hospital: Identity, model_id: str, dataset_id: str
) -> list[tuple[str, str]]:
    """Try three forbidden things; each must be rejected with its specific error and change nothing."""
    attempts: list[tuple[str, Any]] = [
        (
            "a hospital registers a model",
            lambda: ledger.submit(hospital, ModelRegistered(model_id="sha256:" + "0" * 64, name="rogue")),
        ),
        (
            "a dataset is registered twice",
            lambda: ledger.submit(hospital, DatasetRegistered(dataset_id=dataset_id, name="again")),
        ),
        ("an old event is replayed", lambda: ledger.append(ledger.get_event(1).event)),
    ]
    seen = []
    for what, attempt in attempts:
        before = ledger.size
        try:
            attempt()
        except RejectedEvent as exc:
            seen.append((what, type(exc).__name__))
        else:  # pragma: no cover - would be a bug in the state machine
            raise AssertionError(f"{what} was accepted")
        assert ledger.size == before
    return seen


def _tampered_copy_report(db_path: Path, seq: int) -> Any:
    """Copy the ledger, change one stored payload with plain SQL, and audit the copy."""
    copy = db_path.with_name("tampered.db")
    source = sqlite3.connect(db_path)
    dest = sqlite3.connect(copy)
    source.backup(dest)
    source.close()
    dest.execute("UPDATE events SET body = replace(body, 'cardio-risk v1', 'cardio-risk v2') WHERE seq = ?", (seq,))
    dest.commit()
    dest.close()
    tampered = Ledger.open(sqlite_url(copy))
    try:
        return tampered.verify()
    finally:
        tampered.close()
        for suffix in ("", "-wal", "-shm"):
            Path(str(copy) + suffix).unlink(missing_ok=True)
