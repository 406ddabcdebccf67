"""ledgerml: verifiable multi-party machine learning on a ledger, and machine learning for blockchains."""

from . import errors
from . import vocab as vocab  # importing it registers every event kind with the state machine
from .errors import *  # noqa: F403 - the error classes are part of the public API
from .events import Event, Payload, event_kind, parse_event, sign_event
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

__version__ = "0.1.0"

__all__ = [
    "Address",
    "BlockHeader",
    "ConsistencyProof",
    "DatasetRegistered",
    "Digest",
    "Event",
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
    "__version__",
    "apply",
    "event_kind",
    "fold",
    "parse_event",
    "recover_signer",
    "rule",
    "sign_event",
    "sqlite_url",
    "verify_consistency_proof",
    "verify_inclusion_proof",
    *errors.__all__,
]
