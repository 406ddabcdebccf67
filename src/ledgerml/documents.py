"""The JSON documents the CLI prints with --json and the service serves: one function per document.

Plain functions over a ledger (and a home, where the CLI reads one); no web framework imported. The tests compare
every document with the matching command's ``--json`` output on a demo home.
"""

from __future__ import annotations

import math
from typing import Any

from ._json import loads_bounded
from .errors import NotFound
from .home import Home
from .ledger.base import LedgerBackend, StoredEvent
from .state import State, ledger_info
from .types import Address
from .vocab.core import dataset, model
from .vocab.rewards import payouts
from .vocab.tasks import participants, progress, round_record, task
from .vocab.tokens import balance, stake

MAX_PAGE = 1000
"""Most events or blocks one page holds."""


def event_row(stored: StoredEvent, sealed: int) -> dict[str, Any]:
    """One event as ``chain log --json`` lists it."""
    return {"seq": stored.seq, "sealed": stored.seq < sealed, **stored.event.to_dict(), "id": stored.event.id}


def event_list(
    ledger: LedgerBackend, start: int = 0, limit: int = 50, kind: str | None = None, actor: str | None = None
) -> list[dict[str, Any]]:
    """``chain log --from START --limit LIMIT [--kind KIND] --json``: the window's events, then filtered."""
    sealed = ledger.block().log_size
    window = ledger.events(start, start + min(limit, MAX_PAGE))
    return [
        event_row(s, sealed)
        for s in window
        if (kind is None or s.event.kind == kind) and (actor is None or s.event.actor == actor)
    ]


def event_detail(ledger: LedgerBackend, ref: int | str) -> dict[str, Any]:
    """``chain show REF --json``."""
    stored = ledger.get_event(ref)
    return {"seq": stored.seq, "id": stored.event.id, "block": stored.block_height, **stored.event.to_dict()}


def block_list(ledger: LedgerBackend, start: int = 0, limit: int = 50) -> list[dict[str, Any]]:
    """``chain blocks --from START --limit LIMIT --json``."""
    return [h.to_dict() for h in ledger.blocks(start, start + min(limit, MAX_PAGE))]


def head(ledger: LedgerBackend) -> dict[str, Any]:
    """The ledger's id, size, latest signed block header, unsealed count and declared capabilities."""
    latest = ledger.block()
    caps = ledger.capabilities
    info = ledger_info(ledger.state())
    return {
        "ledger_id": ledger.ledger_id,
        "name": info.name if info else None,
        "size": ledger.size,
        "unsealed": ledger.size - latest.log_size,
        "block": latest.to_dict(),
        "capabilities": {
            "atomic_batches": caps.atomic_batches,
            "seals_by_time": caps.seals_by_time,
            "distributed": caps.distributed,
            "storage_check": caps.storage_check,
        },
    }


def task_list(state: State) -> list[dict[str, Any]]:
    """``fl tasks --json``."""
    return [
        {
            "task": t.task_id,
            "name": t.name,
            "rule": t.rule,
            "rule_params": loads_bounded(t.rule_params),
            "rounds": t.rounds,
            "finalized": progress(state, t.task_id).finalized,
            "aggregator": t.aggregator,
        }
        for t in sorted(state.rows("tasks").values(), key=lambda r: r.task_id)
    ]


def _require_task(state: State, task_id: str) -> Any:
    record = task(state, task_id)
    if record is None:
        raise NotFound(f"task {task_id!r} does not exist")
    return record


def rewards(state: State, task_id: str) -> dict[str, Any]:
    """``rewards show TASK --json``: per participant, contribution per round, reward, slashed, stake, balance."""
    record = _require_task(state, task_id)
    rounds = progress(state, task_id).finalized
    paid = payouts(state, task_id)
    rows: list[dict[str, Any]] = []
    for address in participants(state, task_id):
        contributions = [
            dict(paid.rewards[r].contributions).get(address) if r in paid.rewards else None
            for r in range(1, rounds + 1)
        ]
        rows.append(
            {
                "participant": address,
                "contributions_micro": contributions,
                "reward": paid.paid_to(address),
                "slashed": paid.slashed_from(address),
                "stake_held": stake(state, task_id, address),
                "balance": balance(state, address),
            }
        )
    return {
        "task": task_id,
        "reward_pool": record.reward_pool,
        "pool_left": state.get("pools", task_id, 0),
        "participants": rows,
        "rounds": rounds,
    }


def rounds(state: State, task_id: str) -> dict[str, Any]:
    """A task's finalized rounds as recorded: status, metrics (accuracy, DP epsilon), who was accepted, who was
    rejected or invalid and why (the ``RoundFinalized`` events; no CLI command prints them whole)."""
    record = _require_task(state, task_id)
    found: list[dict[str, Any]] = []
    for number in range(1, progress(state, task_id).finalized + 1):
        done = round_record(state, task_id, number)
        if done is None:
            continue
        found.append(
            {
                "round": number,
                "status": done.status,
                "aggregate_digest": done.aggregate_digest,
                "accepted": list(done.accepted),
                "rejected": [{"participant": p, "reason": r} for p, r in done.rejected],
                "invalid": [{"participant": p, "reason": r} for p, r in done.invalid],
                "metrics": loads_bounded(done.metrics),
                "event": done.event_id,
            }
        )
    return {"task": task_id, "name": record.name, "rule": record.rule, "rounds": found}


def model_list(state: State) -> list[dict[str, Any]]:
    """``model list --json``."""
    records = sorted(state.rows("models").values(), key=lambda r: r.time)
    return [
        {
            "model_id": r.model_id,
            "name": r.name,
            "owner": r.owner,
            "datasets": list(r.datasets),
            "parents": list(r.parents),
        }
        for r in records
    ]


def model_detail(ledger: LedgerBackend, model_id: str) -> dict[str, Any]:
    """``model show MODEL --json``."""
    record = model(ledger.state(), model_id)
    if record is None:
        raise NotFound(f"model {model_id} is not registered")
    stored = ledger.get_event(record.registered_by)
    return {
        "model_id": record.model_id,
        "name": record.name,
        "owner": record.owner,
        "uri": record.uri,
        "datasets": list(record.datasets),
        "parents": list(record.parents),
        "metrics_digest": record.metrics_digest,
        "event": stored.seq,
        "block": stored.block_height,
    }


def dataset_list(state: State) -> list[dict[str, Any]]:
    """``data list --json``."""
    records = sorted(state.rows("datasets").values(), key=lambda r: r.time)
    return [{"dataset_id": r.dataset_id, "name": r.name, "owner": r.owner, "license": r.license} for r in records]


def dataset_detail(home: Home, ledger: LedgerBackend, dataset_id: str) -> dict[str, Any]:
    """``data show DATASET --json`` (with the stored manifest, when the home's store holds it)."""
    record = dataset(ledger.state(), dataset_id)
    if record is None:
        raise NotFound(f"dataset {dataset_id} is not registered")
    stored = ledger.get_event(record.registered_by)
    store = home.store()
    manifest = loads_bounded(store.get(dataset_id)) if store.has(dataset_id) else None
    return {
        "dataset_id": record.dataset_id,
        "name": record.name,
        "owner": record.owner,
        "uri": record.uri,
        "license": record.license,
        "consent_note": record.consent_note,
        "parents": list(record.parents),
        "event": stored.seq,
        "block": stored.block_height,
        "manifest": manifest,
    }


def names(home: Home) -> dict[Address, str]:
    """The home's identity names by address (for labels only; documents carry addresses)."""
    return {info.address: info.name for info in home.keys.list()}


def round_detail(state: State, task_id: str, number: int) -> dict[str, Any]:
    """One finalized round, per participant: committed update, verdict and reason, contribution, reward, slash."""
    from .vocab.tasks import commits

    found = next((r for r in rounds(state, task_id)["rounds"] if r["round"] == number), None)
    if found is None:
        raise NotFound(f"round {number} of task {task_id!r} is not finalized")
    verdicts: dict[str, tuple[str, str]] = {a: ("accepted", "") for a in found["accepted"]}
    verdicts |= {r["participant"]: ("rejected", r["reason"]) for r in found["rejected"]}
    verdicts |= {r["participant"]: ("invalid", r["reason"]) for r in found["invalid"]}
    paid = payouts(state, task_id)
    reward = paid.rewards.get(number)
    contributions = dict(reward.contributions) if reward else {}
    payments = dict(reward.payments) if reward else {}
    committed = commits(state, task_id, number)
    rows = []
    for address in sorted({Address(a) for a in verdicts} | set(committed)):
        verdict, reason = verdicts.get(address, ("not listed", ""))
        commit = committed.get(address)
        slash = paid.slashes.get((number, address))
        rows.append(
            {
                "participant": address,
                "verdict": verdict,
                "reason": reason,
                "update_digest": commit.update_digest if commit else None,
                "num_examples": commit.num_examples if commit else None,
                "contribution_micro": contributions.get(address),
                "reward": payments.get(address, 0),
                "slashed": slash.amount if slash else 0,
            }
        )
    return {**found, "task": task_id, "participants": rows}


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as None (JSON has no such numbers)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def analytics(home: Home, state: State) -> dict[str, Any]:
    """Analytics models registered on the ledger (those no federated round produced, e.g. fraud detectors), with
    their evaluation metrics from the artifact store (NaN scores shown as null), and the fraud-score reports
    ``fraud score`` kept in the home (``fraud_scores``, newest first; ``fraud_score_notes`` names damaged ones)."""
    store = home.store()
    rows: list[dict[str, Any]] = []
    for record in sorted(state.rows("models").values(), key=lambda r: r.time):
        if record.task is not None:
            continue
        digest = record.metrics_digest
        metrics = (
            loads_bounded(store.get(digest), max_bytes=MAX_METRICS_BYTES) if digest and store.has(digest) else None
        )
        rows.append(
            {
                "model_id": record.model_id,
                "name": record.name,
                "owner": record.owner,
                "datasets": list(record.datasets),
                "metrics": _finite(metrics),
            }
        )
    reports, notes = _fraud_score_files(home)
    return {"models": rows, "fraud_scores": reports, "fraud_score_notes": notes}


FRAUD_SCORES_FOLDER = "analytics/fraud-scores"
"""Where ``fraud score`` keeps its reports, inside the home."""
MAX_FRAUD_SCORE_REPORTS = 20
"""Most fraud-score reports a document lists."""
MAX_FRAUD_SCORE_BYTES = 4 << 20
"""Largest fraud-score report read."""


def _fraud_score_files(home: Home) -> tuple[list[dict[str, Any]], list[str]]:
    """The newest readable fraud-score reports (at most ``MAX_FRAUD_SCORE_REPORTS``) and a note per damaged one."""
    from ._json import load_file
    from .errors import LedgerMLError

    folder = home.path / FRAUD_SCORES_FOLDER
    names = sorted((p.name for p in folder.glob("*.json")), reverse=True) if folder.is_dir() else []
    reports: list[dict[str, Any]] = []
    notes: list[str] = []
    for name in names:
        if len(reports) == MAX_FRAUD_SCORE_REPORTS:
            break
        try:
            found = load_file(folder / name, what=name, max_bytes=MAX_FRAUD_SCORE_BYTES)
        except LedgerMLError as exc:
            notes.append(f"skipped {exc}")
            continue
        if not isinstance(found, dict) or not isinstance(found.get("top"), list):
            notes.append(f"skipped {name}: not a fraud-score report")
            continue
        reports.append(found)
    return reports, notes


def fraud_score_reports(home: Home) -> list[dict[str, Any]]:
    """The reports ``fraud score`` kept in the home, newest first, at most 20; damaged files are skipped."""
    return _fraud_score_files(home)[0]


MAX_METRICS_BYTES = 4 << 20
"""Largest metrics document read from the store."""

__all__ = [
    "MAX_PAGE",
    "analytics",
    "block_list",
    "dataset_detail",
    "dataset_list",
    "event_detail",
    "event_list",
    "event_row",
    "fraud_score_reports",
    "head",
    "model_detail",
    "model_list",
    "names",
    "rewards",
    "round_detail",
    "rounds",
    "task_list",
]
