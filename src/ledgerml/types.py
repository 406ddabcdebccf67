"""Domain value types: addresses, digests that name their algorithm, roles."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import NewType

from ._keccak import checksum_hex
from .errors import ConfigError

Address = NewType("Address", str)
"""An EIP-55 checksummed Ethereum address, ``0x`` + 40 hex digits."""

_ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
_HEX_RE = re.compile(r"^[0-9a-f]*$")


def to_address(value: str) -> Address:
    """Return the checksummed form of ``value``; raise ``ConfigError`` if it is not an address."""
    if not isinstance(value, str) or not _ADDRESS_RE.match(value):
        raise ConfigError(f"not an Ethereum address: {value!r}")
    return Address(checksum_hex(value[2:].lower()))


def is_checksum_address(value: object) -> bool:
    """True if ``value`` is an address string already in EIP-55 checksum form."""
    return isinstance(value, str) and bool(_ADDRESS_RE.match(value)) and checksum_hex(value[2:].lower()) == value


class Role(StrEnum):
    """Roles an identity can hold on a ledger."""

    ADMIN = "admin"
    VALIDATOR = "validator"
    DATA_OWNER = "data_owner"
    TRAINER = "trainer"
    AGGREGATOR = "aggregator"
    AUDITOR = "auditor"


_DIGEST_SIZES = {"sha256": 32}


@dataclass(frozen=True, slots=True)
class Digest:
    """A content digest that names its algorithm; written ``sha256:<64 hex>``."""

    algorithm: str
    value: bytes

    def __post_init__(self) -> None:
        size = _DIGEST_SIZES.get(self.algorithm)
        if size is None:
            raise ConfigError(f"unsupported digest algorithm {self.algorithm!r} (supported: sha256)")
        if len(self.value) != size:
            raise ConfigError(f"{self.algorithm} digest must be {size} bytes, got {len(self.value)}")

    @classmethod
    def sha256(cls, data: bytes) -> Digest:
        """Digest ``data`` with SHA-256."""
        return cls("sha256", hashlib.sha256(data).digest())

    @classmethod
    def parse(cls, text: str) -> Digest:
        """Parse ``sha256:<hex>``; raise ``ConfigError`` on anything else."""
        if not isinstance(text, str) or ":" not in text:
            raise ConfigError(f"digest must look like 'sha256:<hex>', got {text!r}")
        algorithm, _, hexpart = text.partition(":")
        if not _HEX_RE.match(hexpart) or len(hexpart) % 2:
            raise ConfigError(f"digest value must be lowercase hex, got {hexpart!r}")
        return cls(algorithm, bytes.fromhex(hexpart))

    @property
    def hex(self) -> str:
        """The digest value as lowercase hex, without the algorithm."""
        return self.value.hex()

    def matches(self, other: Digest) -> bool:
        """Constant-time comparison of two digests (algorithm and value)."""
        return self.algorithm == other.algorithm and hmac.compare_digest(self.value, other.value)

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.value.hex()}"
