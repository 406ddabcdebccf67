"""ledgerml: verifiable multi-party machine learning on a ledger, and machine learning for blockchains.

The public names below load on first use (PEP 562), so ``import ledgerml`` and the command line start fast; the
event vocabularies register themselves on the first lookup of a kind (``ledgerml.events.load_vocabularies``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import errors
from .errors import *  # noqa: F403 - the error classes are part of the public API

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "Event": "events",
    "Payload": "events",
    "event_kind": "events",
    "parse_event": "events",
    "sign_event": "events",
    "Identity": "identity",
    "KeyStore": "identity",
    "recover_signer": "identity",
    "BlockHeader": "ledger",
    "ConsistencyProof": "ledger",
    "InclusionProof": "ledger",
    "Ledger": "ledger",
    "LedgerBackend": "ledger",
    "Receipt": "ledger",
    "StoredEvent": "ledger",
    "VerifyReport": "ledger",
    "sqlite_url": "ledger",
    "verify_consistency_proof": "ledger",
    "verify_inclusion_proof": "ledger",
    "State": "state",
    "apply": "state",
    "fold": "state",
    "rule": "state",
    "Address": "types",
    "Digest": "types",
    "Role": "types",
    "DatasetRegistered": "vocab.core",
    "LedgerCreated": "vocab.core",
    "ModelRegistered": "vocab.core",
    "RoleGranted": "vocab.core",
    "RoleRevoked": "vocab.core",
    "FederationPlan": "federated.plan",
    "run_federation": "federated.workflow",
    "run_demo": "workflows.demo",
}
"""Public name -> the module (under ``ledgerml``) that defines it."""

if TYPE_CHECKING:
    from .events import Event, Payload, event_kind, parse_event, sign_event
    from .federated.plan import FederationPlan
    from .federated.workflow import run_federation
    from .identity import Identity, KeyStore, recover_signer
    from .ledger import (
        BlockHeader,
        ConsistencyProof,
        InclusionProof,
        Ledger,
        LedgerBackend,
        Receipt,
        StoredEvent,
        VerifyReport,
        sqlite_url,
        verify_consistency_proof,
        verify_inclusion_proof,
    )
    from .state import State, apply, fold, rule
    from .types import Address, Digest, Role
    from .vocab.core import DatasetRegistered, LedgerCreated, ModelRegistered, RoleGranted, RoleRevoked
    from .workflows.demo import run_demo


def __getattr__(name: str) -> Any:
    """Load a public name's module on first use."""
    module = _LAZY.get(name)
    if module is None:
        if name == "vocab":
            return importlib.import_module(f"{__name__}.vocab")
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "__version__",
    "Address",
    "BlockHeader",
    "ConsistencyProof",
    "DatasetRegistered",
    "Digest",
    "Event",
    "FederationPlan",
    "Identity",
    "InclusionProof",
    "KeyStore",
    "Ledger",
    "LedgerBackend",
    "LedgerCreated",
    "ModelRegistered",
    "Payload",
    "Receipt",
    "Role",
    "RoleGranted",
    "RoleRevoked",
    "State",
    "StoredEvent",
    "VerifyReport",
    "apply",
    "event_kind",
    "fold",
    "parse_event",
    "recover_signer",
    "rule",
    "run_demo",
    "run_federation",
    "sign_event",
    "sqlite_url",
    "verify_consistency_proof",
    "verify_inclusion_proof",
    *errors.__all__,
]
