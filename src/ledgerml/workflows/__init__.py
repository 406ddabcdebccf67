"""Workflows of the Python API: what the CLI (and the coming REST service) calls, returning typed results.

Names load on first use, so a light workflow (``workflows.templates``) does not import Flower or scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AuditCheck": "ledgerml.workflows.demo",
    "DemoResult": "ledgerml.workflows.demo",
    "Payout": "ledgerml.workflows.demo",
    "demo_plans": "ledgerml.workflows.demo",
    "new_demo_home": "ledgerml.workflows.demo",
    "run_demo": "ledgerml.workflows.demo",
    "FederationResult": "ledgerml.federated.workflow",
    "audit_federation": "ledgerml.federated.workflow",
    "run_federation": "ledgerml.federated.workflow",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'ledgerml.workflows' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


__all__ = sorted(_EXPORTS)
