"""Federated learning recorded on the ledger: aggregation rules, validation, attacks, DP, the coordinator,
the round auditor, and (in ``flower`` / ``apps``) the Flower 1.42 adapter."""

from .aggregation import RULES, AggregationResult, aggregate
from .audit import TaskAudit, audit_task
from .config import FederationConfig
from .coordinator import Reply, RoundOutcome, TaskCoordinator
from .participant import Participant
from .plan import FederationPlan, PlannedParticipant, load_plan
from .runner import setup_federation
from .workflow import FederationResult, audit_federation, run_federation

__all__ = [
    "RULES",
    "AggregationResult",
    "FederationConfig",
    "FederationPlan",
    "FederationResult",
    "Participant",
    "PlannedParticipant",
    "Reply",
    "RoundOutcome",
    "TaskAudit",
    "TaskCoordinator",
    "aggregate",
    "audit_federation",
    "audit_task",
    "load_plan",
    "run_federation",
    "setup_federation",
]
