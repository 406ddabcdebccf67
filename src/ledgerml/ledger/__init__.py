"""Ledgers: the backend protocol, the embedded SQLite backend, blocks, and RFC 9162 Merkle proofs."""

from .base import Capabilities, LedgerBackend, Receipt, StoredEvent, VerifyReport
from .blocks import BlockHeader, sign_block, verify_block_signature
from .merkle import MerkleTree, leaf_hash, node_hash, verify_consistency, verify_inclusion
from .proofs import ConsistencyProof, InclusionProof, verify_consistency_proof, verify_inclusion_proof
from .registry import Ledger, LedgerURL, evm_url, known_backends, parse_ledger_url, register_backend, sqlite_url
from .sqlite import SqliteLedger

__all__ = [
    "BlockHeader",
    "Capabilities",
    "ConsistencyProof",
    "InclusionProof",
    "Ledger",
    "LedgerBackend",
    "LedgerURL",
    "MerkleTree",
    "Receipt",
    "SqliteLedger",
    "StoredEvent",
    "VerifyReport",
    "evm_url",
    "known_backends",
    "leaf_hash",
    "node_hash",
    "parse_ledger_url",
    "register_backend",
    "sign_block",
    "sqlite_url",
    "verify_block_signature",
    "verify_consistency",
    "verify_consistency_proof",
    "verify_inclusion",
    "verify_inclusion_proof",
]
