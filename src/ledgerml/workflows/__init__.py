"""Workflows of the Python API: what the CLI (and the coming REST service) calls, returning typed results."""

from ..federated.workflow import FederationResult, audit_federation, run_federation
from .demo import AuditCheck, DemoResult, Payout, demo_plans, new_demo_home, run_demo

__all__ = [
    "AuditCheck",
    "DemoResult",
    "FederationResult",
    "Payout",
    "audit_federation",
    "demo_plans",
    "new_demo_home",
    "run_demo",
    "run_federation",
]
