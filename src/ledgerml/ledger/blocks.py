"""Signed block headers: each commits to height, previous block hash, log size, log root, time and proposer."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from .._canonical import canonical_json
from ..errors import InvalidProof, InvalidSignature
from ..identity import Identity, recover_signer
from ..types import Address, is_checksum_address

BLOCK_FORMAT_VERSION = 1
GENESIS_PREV_HASH = bytes(32)
_HEX32 = re.compile(r"[0-9a-f]{64}")
_LEDGER_ID = re.compile(r"[0-9a-f]{32}")
_SIGNATURE = re.compile(r"0x[0-9a-f]{130}")
MAX_BLOCK_NUMBER = 2**62
"""Largest height, log size or time a parsed header may state (SQLite's INTEGER range, with room)."""


@dataclass(frozen=True, slots=True)
class BlockHeader:
    """A block header and the validator's EIP-191 signature over its hash."""

    ledger: str
    height: int
    prev_hash: bytes
    log_size: int
    log_root: bytes
    time: int
    proposer: Address
    signature: bytes = field(default=b"", repr=False)

    def header_dict(self) -> dict[str, Any]:
        """The signed fields as JSON data."""
        return {
            "v": BLOCK_FORMAT_VERSION,
            "ledger": self.ledger,
            "height": self.height,
            "prev_hash": self.prev_hash.hex(),
            "log_size": self.log_size,
            "log_root": self.log_root.hex(),
            "time": self.time,
            "proposer": self.proposer,
        }

    @property
    def hash(self) -> bytes:
        """SHA-256 of the canonical header: what the proposer signs and the next block links to."""
        return hashlib.sha256(canonical_json(self.header_dict())).digest()

    def to_dict(self) -> dict[str, Any]:
        """Header, hash and signature as JSON data."""
        return {**self.header_dict(), "hash": self.hash.hex(), "signature": "0x" + self.signature.hex()}

    @classmethod
    def from_dict(cls, data: Any) -> BlockHeader:
        """Parse a header written by :meth:`to_dict`; raise ``InvalidProof`` if it is malformed."""
        try:
            if not isinstance(data, dict):
                raise InvalidProof("a block header must be a JSON object")
            if type(data["v"]) is not int or data["v"] != BLOCK_FORMAT_VERSION:
                raise InvalidProof(f"unsupported block format {data['v']!r}")
            for name in ("prev_hash", "log_root"):
                if not isinstance(data[name], str) or not _HEX32.fullmatch(data[name]):
                    raise InvalidProof(f"block {name} must be 64 lowercase hex digits")
            if not isinstance(data["ledger"], str) or not _LEDGER_ID.fullmatch(data["ledger"]):
                raise InvalidProof("block ledger must be a 32-hex-digit ledger id")
            if not isinstance(data["signature"], str) or not _SIGNATURE.fullmatch(data["signature"]):
                raise InvalidProof("block signature must be 0x followed by 130 lowercase hex digits")
            if "hash" in data and (not isinstance(data["hash"], str) or not _HEX32.fullmatch(data["hash"])):
                raise InvalidProof("block hash must be 64 lowercase hex digits")
            if not is_checksum_address(data["proposer"]):
                raise InvalidProof("block proposer must be a checksummed address")
            for name in ("height", "log_size", "time"):
                if type(data[name]) is not int or not 0 <= data[name] <= MAX_BLOCK_NUMBER:
                    raise InvalidProof(f"block {name} must be an integer from 0 to {MAX_BLOCK_NUMBER}")
            header = cls(
                ledger=str(data["ledger"]),
                height=data["height"],
                prev_hash=bytes.fromhex(data["prev_hash"]),
                log_size=data["log_size"],
                log_root=bytes.fromhex(data["log_root"]),
                time=data["time"],
                proposer=Address(data["proposer"]),
                signature=bytes.fromhex(data["signature"][2:]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, InvalidProof):
                raise
            raise InvalidProof(f"malformed block header: {exc!r}") from None
        if "hash" in data and data["hash"] != header.hash.hex():
            raise InvalidProof(f"block {header.height}: stated hash does not match its fields")
        return header


def sign_block(
    identity: Identity,
    *,
    ledger: str,
    height: int,
    prev_hash: bytes,
    log_size: int,
    log_root: bytes,
    time: int,
) -> BlockHeader:
    """Build and sign a block header as ``identity`` (the proposer)."""
    unsigned = BlockHeader(ledger, height, prev_hash, log_size, log_root, time, identity.address)
    return BlockHeader(
        ledger, height, prev_hash, log_size, log_root, time, identity.address, identity.sign_digest(unsigned.hash)
    )


def verify_block_signature(header: BlockHeader, trusted_validators: Collection[str] | None = None) -> None:
    """Raise ``InvalidProof`` unless the header is signed by its proposer (and, if given, a trusted one)."""
    try:
        signer = recover_signer(header.hash, header.signature)
    except InvalidSignature as exc:
        raise InvalidProof(f"block {header.height}: {exc}") from None
    if signer != header.proposer:
        raise InvalidProof(f"block {header.height}: signed by {signer}, not by its proposer {header.proposer}")
    if trusted_validators is not None and header.proposer not in trusted_validators:
        raise InvalidProof(f"block {header.height}: proposer {header.proposer} is not a trusted validator")
