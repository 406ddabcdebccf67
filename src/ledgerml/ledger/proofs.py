"""Inclusion and consistency proofs bundled with signed block headers, and their standalone verification.

A verifier needs nothing but the proof document (and, to pin trust, the validator addresses it accepts):
no database, no network.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from .._canonical import canonical_json
from .._json import loads_bounded
from ..errors import InvalidProof, LedgerMLError
from ..events import Event, parse_event
from ..identity import recover_signer
from .blocks import BlockHeader, verify_block_signature
from .merkle import leaf_hash, verify_consistency, verify_inclusion

PROOF_FORMAT = "ledgerml-proof/v1"
_HEX32 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class InclusionProof:
    """Proof that ``event`` is leaf ``leaf_index`` of the log committed to by ``block``."""

    event: bytes
    leaf_index: int
    path: list[bytes]
    block: BlockHeader

    def to_dict(self) -> dict[str, Any]:
        """JSON data: the event body, the RFC 9162 audit path and the signed header."""
        return {
            "format": PROOF_FORMAT,
            "type": "inclusion",
            "event": loads_bounded(self.event),
            "leaf_index": self.leaf_index,
            "tree_size": self.block.log_size,
            "path": [h.hex() for h in self.path],
            "block": self.block.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Any) -> InclusionProof:
        """Parse :meth:`to_dict` output; raise ``InvalidProof`` when malformed."""
        try:
            _check_header(data, "inclusion")
            block = BlockHeader.from_dict(data["block"])
            if type(data["tree_size"]) is not int or data["tree_size"] != block.log_size:
                raise InvalidProof("proof tree_size differs from the block's log size")
            leaf_index = data["leaf_index"]
            if type(leaf_index) is not int or not 0 <= leaf_index < block.log_size:
                raise InvalidProof(f"proof leaf_index must be an integer from 0 to {block.log_size - 1}")
            event = parse_event(canonical_json(data["event"]))
            return cls(event.body, leaf_index, _hashes(data["path"]), block)
        except InvalidProof:
            raise
        except (LedgerMLError, KeyError, TypeError, ValueError) as exc:
            raise InvalidProof(f"malformed inclusion proof: {exc}") from None


@dataclass(frozen=True)
class ConsistencyProof:
    """Proof that the log at ``old`` is a prefix of the log at ``new``."""

    old: BlockHeader
    new: BlockHeader
    path: list[bytes]

    def to_dict(self) -> dict[str, Any]:
        """JSON data: both signed headers and the RFC 9162 consistency path."""
        return {
            "format": PROOF_FORMAT,
            "type": "consistency",
            "old_block": self.old.to_dict(),
            "new_block": self.new.to_dict(),
            "path": [h.hex() for h in self.path],
        }

    @classmethod
    def from_dict(cls, data: Any) -> ConsistencyProof:
        """Parse :meth:`to_dict` output; raise ``InvalidProof`` when malformed."""
        try:
            _check_header(data, "consistency")
            return cls(
                BlockHeader.from_dict(data["old_block"]),
                BlockHeader.from_dict(data["new_block"]),
                _hashes(data["path"]),
            )
        except InvalidProof:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidProof(f"malformed consistency proof: {exc}") from None


def _check_header(data: Any, kind: str) -> None:
    if not isinstance(data, dict) or data.get("format") != PROOF_FORMAT or data.get("type") != kind:
        raise InvalidProof(f"not a {PROOF_FORMAT} {kind} proof")


def _hashes(items: Any) -> list[bytes]:
    if not isinstance(items, list) or not all(isinstance(h, str) and _HEX32.fullmatch(h) for h in items):
        raise InvalidProof("proof path must be a list of 64-hex-digit hashes")
    return [bytes.fromhex(h) for h in items]


def verify_inclusion_proof(proof: InclusionProof, trusted_validators: Collection[str] | None = None) -> Event:
    """Check an inclusion proof end to end and return the proven event.

    Checks: the block header's signature (and proposer trust, if ``trusted_validators`` is given), the
    event's own signature against its actor, and the RFC 9162 audit path to the signed log root.
    """
    verify_block_signature(proof.block, trusted_validators)
    try:
        event = parse_event(proof.event)
    except LedgerMLError as exc:
        raise InvalidProof(f"proof carries a malformed event: {exc}") from None
    if event.ledger != proof.block.ledger:
        raise InvalidProof("event and block belong to different ledgers")
    try:
        signer = recover_signer(event.digest, event.signature)
    except LedgerMLError as exc:
        raise InvalidProof(f"event signature: {exc}") from None
    if signer != event.actor:
        raise InvalidProof(f"event signed by {signer}, not by its actor {event.actor}")
    verify_inclusion(leaf_hash(proof.event), proof.leaf_index, proof.block.log_size, proof.path, proof.block.log_root)
    return event


def verify_consistency_proof(proof: ConsistencyProof, trusted_validators: Collection[str] | None = None) -> None:
    """Check both signed headers and that the old log is a prefix of the new one."""
    verify_block_signature(proof.old, trusted_validators)
    verify_block_signature(proof.new, trusted_validators)
    if proof.old.ledger != proof.new.ledger:
        raise InvalidProof("the two blocks belong to different ledgers")
    if proof.old.height > proof.new.height:
        raise InvalidProof("the old block is higher than the new block")
    verify_consistency(proof.old.log_size, proof.new.log_size, proof.old.log_root, proof.new.log_root, proof.path)
