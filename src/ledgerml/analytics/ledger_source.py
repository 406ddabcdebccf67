"""The project's own ledger as a transaction graph, so the same detector can watch its actors: every event
becomes an edge from its actor to its counterpart (the role's subject, the token recipient, each rewarded
participant, the slashed participant, or the task's aggregator for joins and commitments), valued in reward
tokens where tokens move. Events without a counterpart (registrations) count as the actor's activity only.
A governance ``ProposalExecuted`` counts as the event it applied, by its proposer (who is that event's actor)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from .._json import loads_bounded
from ..ledger.base import LedgerBackend
from ..vocab.governance import PROPOSALS


def _edges(kind: str, payload: dict[str, Any], aggregators: dict[str, str]) -> list[tuple[str, float]]:
    if kind in ("RoleGranted", "RoleRevoked"):
        return [(payload["subject"], 0.0)]
    if kind == "TokensTransferred":
        return [(payload["to"], float(payload["amount"]))]
    if kind == "TokensMinted" and payload.get("to"):
        return [(payload["to"], float(payload["amount"]))]
    if kind == "RewardPaid":
        return [(address, float(amount)) for address, amount in sorted(payload["payments"].items())]
    if kind == "StakeSlashed":
        return [(payload["participant"], float(payload["amount"]))]
    if kind in ("ParticipantJoined", "UpdateCommitted") and payload.get("task_id") in aggregators:
        return [(aggregators[payload["task_id"]], float(payload.get("stake", 0)))]
    return [("", 0.0)]


def ledger_transactions(ledger: LedgerBackend) -> pd.DataFrame:
    """The ledger's events as ``from, to, value, timestamp, contract_creation`` rows."""
    aggregators = {task_id: record.aggregator for task_id, record in ledger.state().rows("tasks").items()}
    proposals = ledger.state().rows(PROPOSALS)
    rows = []
    for stored in ledger.events():
        event = stored.event
        actor, kind, payload = event.actor, event.kind, event.payload
        if kind == "ProposalExecuted" and (applied := proposals.get(payload["proposal"])) is not None:
            actor, kind, payload = applied.proposer, applied.action, loads_bounded(applied.payload)
        for counterpart, value in _edges(kind, payload, aggregators):
            rows.append(
                {
                    "from": actor.lower(),
                    "to": counterpart.lower(),
                    "value": value,
                    "timestamp": event.time // 1000,
                    "contract_creation": False,
                    "kind": kind,
                }
            )
    return pd.DataFrame(rows, columns=["from", "to", "value", "timestamp", "contract_creation", "kind"])
