"""Federated learning recorded on the ledger: aggregation rules, validation, attacks, DP, the coordinator,
the round auditor, and (in ``flower`` / ``apps``) the Flower 1.42 adapter."""

from .aggregation import RULES, AggregationResult, aggregate
from .audit import TaskAudit, audit_task
from .coordinator import Reply, RoundOutcome, TaskCoordinator
from .participant import Participant
from .runner import FederationConfig, FederationResult, setup_federation

__all__ = [
    "RULES",
    "AggregationResult",
    "FederationConfig",
    "FederationResult",
    "Participant",
    "Reply",
    "RoundOutcome",
    "TaskAudit",
    "TaskCoordinator",
    "aggregate",
    "audit_task",
    "setup_federation",
]
