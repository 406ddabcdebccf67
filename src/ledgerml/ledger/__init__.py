"""Ledgers: the backend protocol, the embedded SQLite backend, blocks, and RFC 9162 Merkle proofs."""

from .base import Ledger, LedgerBackend, Receipt, StoredEvent, VerifyReport, parse_ledger_url, sqlite_url
from .blocks import BlockHeader, sign_block, verify_block_signature
from .merkle import MerkleTree, leaf_hash, node_hash, verify_consistency, verify_inclusion
from .proofs import ConsistencyProof, InclusionProof, verify_consistency_proof, verify_inclusion_proof
from .sqlite import SqliteLedger

__all__ = [
    "BlockHeader",
    "ConsistencyProof",
    "InclusionProof",
    "Ledger",
    "LedgerBackend",
    "MerkleTree",
    "Receipt",
    "SqliteLedger",
    "StoredEvent",
    "VerifyReport",
    "leaf_hash",
    "node_hash",
    "parse_ledger_url",
    "sign_block",
    "sqlite_url",
    "verify_block_signature",
    "verify_consistency",
    "verify_consistency_proof",
    "verify_inclusion",
    "verify_inclusion_proof",
]
