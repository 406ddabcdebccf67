"""Federated learning recorded on the ledger: aggregation rules, validation, attacks, DP, the coordinator,
the round auditor, and (in ``flower`` / ``apps``) the Flower 1.42 adapter. ``ledger_mod`` (the Flower client
mod), ``create_flower_task`` and ``serve_flower_task`` (bring your own Flower app) import Flower on first use."""

from typing import Any

from .aggregation import RULES, AggregationResult, aggregate
from .audit import TaskAudit, audit_task
from .config import FederationConfig
from .coordinator import Reply, RoundOutcome, TaskCoordinator
from .participant import Participant
from .plan import FederationPlan, PlannedParticipant, load_plan
from .runner import setup_federation
from .workflow import FederationResult, audit_federation, run_federation

_FLOWER = {
    "ledger_mod": ".mod",
    "LedgerMod": ".mod",
    "create_flower_task": ".byo",
    "serve_flower_task": ".byo",
    "LedgerStrategy": ".flower",
}


def __getattr__(name: str) -> Any:
    """The Flower-facing names, imported on first use so that ``import ledgerml.federated`` stays light."""
    if name in _FLOWER:
        import importlib

        return getattr(importlib.import_module(_FLOWER[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "RULES",
    "AggregationResult",
    "FederationConfig",
    "FederationPlan",
    "FederationResult",
    "LedgerMod",
    "LedgerStrategy",
    "Participant",
    "PlannedParticipant",
    "Reply",
    "RoundOutcome",
    "TaskAudit",
    "TaskCoordinator",
    "aggregate",
    "audit_federation",
    "audit_task",
    "create_flower_task",
    "ledger_mod",
    "load_plan",
    "run_federation",
    "serve_flower_task",
    "setup_federation",
]
