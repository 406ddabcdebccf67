"""The sealed-log core every backend shares: sealing the next block header, and checking a chain of headers.

A *seal* is a validator-signed header over a prefix of the RFC 9162 log: ``(ledger, height, prev_hash,
log_size, log_root, time, proposer)``. Backends differ only in where headers and events are stored; the rules of
the chain live here, so both audits check the same things: heights contiguous from 0, each header linked to the
one before, log sizes strictly growing, the log root equal to the Merkle root of exactly the events it covers,
times never going backwards, a valid signature by a proposer who held the validator role at that point.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ConfigError, InvalidProof, Unauthorized
from ..identity import Identity
from ..state import State
from ..types import Role
from ..vocab.core import roles_of
from .blocks import GENESIS_PREV_HASH, BlockHeader, sign_block, verify_block_signature
from .merkle import MerkleTree


def seal_next(
    previous: BlockHeader | None,
    tree: MerkleTree,
    log_size: int,
    *,
    validator: Identity | None,
    state: State,
    ledger_id: str,
    now: int,
) -> BlockHeader:
    """Sign the header that follows ``previous`` over the first ``log_size`` leaves of ``tree``.

    Its time is ``now`` but never before ``previous``'s (block times are monotonic). Raises ``ConfigError``
    without a validator key and ``Unauthorized`` when that key does not hold the validator role in ``state``.
    """
    if validator is None:
        raise ConfigError("this process holds no validator key, so it cannot seal blocks")
    if Role.VALIDATOR not in roles_of(state, validator.address):
        raise Unauthorized(f"{validator.address} is not a validator of this ledger")
    return sign_block(
        validator,
        ledger=ledger_id,
        height=0 if previous is None else previous.height + 1,
        prev_hash=GENESIS_PREV_HASH if previous is None else previous.hash,
        log_size=log_size,
        log_root=tree.root(log_size),
        time=max(now, 0 if previous is None else previous.time),
    )


@dataclass
class ChainCheck:
    """Checks a ledger's headers in order while its events are replayed; one instance per audit.

    Call :meth:`check` with each header once the replay's ``tree`` holds exactly ``header.log_size`` events
    and ``state`` is the state after them. It returns the problem, or None; ``checked`` counts good headers.
    """

    ledger_id: str
    checked: int = 0
    previous: BlockHeader | None = field(default=None)

    @property
    def sealed(self) -> int:
        """Log size covered by the last good header (0 before any)."""
        return 0 if self.previous is None else self.previous.log_size

    def check(
        self, header: BlockHeader, tree: MerkleTree, state: State, *, stored_hash: bytes | None = None
    ) -> str | None:
        """The first problem with ``header`` as the next block of this chain, or None (and it becomes the last)."""
        expected_height = 0 if self.previous is None else self.previous.height + 1
        if header.height != expected_height:
            return f"block heights skip or repeat: expected {expected_height}, found {header.height}"
        if header.ledger != self.ledger_id:
            return f"block belongs to ledger {header.ledger}, not {self.ledger_id}"
        if header.log_size != tree.size or header.log_size <= self.sealed:
            return f"block log size {header.log_size} does not advance the log in order (previous {self.sealed})"
        expected_prev = GENESIS_PREV_HASH if self.previous is None else self.previous.hash
        if header.prev_hash != expected_prev:
            return "previous-block hash does not link to the block before"
        if stored_hash is not None and stored_hash != header.hash:
            return "stored block hash does not match the header fields"
        if header.log_root != tree.root(header.log_size):
            return "log root does not match the Merkle root of the events it commits to"
        if self.previous is not None and header.time < self.previous.time:
            return "block time goes backwards"
        try:
            verify_block_signature(header)
        except InvalidProof as exc:
            return str(exc)
        if Role.VALIDATOR not in roles_of(state, header.proposer):
            return f"proposer {header.proposer} was not a validator when the block was sealed"
        self.previous = header
        self.checked += 1
        return None


__all__ = ["ChainCheck", "seal_next"]
