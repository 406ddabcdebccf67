"""Identities: secp256k1 keys with Ethereum addresses, EIP-191 signatures over digests, V3 keystores.

Signatures are EIP-191 ``personal_sign`` over the 32-byte event digest:
``keccak256(b"\\x19Ethereum Signed Message:\\n32" + digest)``, 65 bytes ``r || s || v`` with v in {27, 28}.
Any Ethereum tool verifies them (``eth_account.Account.recover_message(encode_defunct(primitive=digest))``)
and a contract recovers them with ``ecrecover``. EIP-191 was chosen over EIP-712 by measured speed
(see docs/design.md): ~30k recoveries/s through coincurve against ~6k/s for EIP-712 typed data.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import coincurve

from ._json import loads_bounded
from ._keccak import checksum_hex, keccak256
from .errors import AlreadyExists, ConfigError, InvalidSignature, KeystoreError, NotFound
from .types import Address, to_address

_EIP191_PREFIX = b"\x19Ethereum Signed Message:\n32"
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
UNENCRYPTED_WARNING = "UNENCRYPTED KEY - for demos and tests only, never for real use"


def eip191_hash(digest: bytes) -> bytes:
    """The hash that an EIP-191 ``personal_sign`` of a 32-byte digest signs."""
    if len(digest) != 32:
        raise InvalidSignature(f"only 32-byte digests are signed, got {len(digest)} bytes")
    return keccak256(_EIP191_PREFIX + digest)


def address_of_public_key(public_key: coincurve.PublicKey) -> Address:
    """The Ethereum address of a secp256k1 public key."""
    return Address(checksum_hex(keccak256(public_key.format(compressed=False)[1:])[-20:].hex()))


def recover_signer(digest: bytes, signature: bytes) -> Address:
    """Recover the address that made an EIP-191 ``signature`` over ``digest``.

    Raises ``InvalidSignature`` if the signature is malformed, non-canonical (high s) or unrecoverable.
    """
    if len(signature) != 65:
        raise InvalidSignature(f"signature must be 65 bytes, got {len(signature)}")
    v = signature[64]
    if v not in (27, 28):
        raise InvalidSignature(f"signature v must be 27 or 28, got {v}")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    if not (0 < r < _SECP256K1_N and 0 < s <= _SECP256K1_N // 2):
        raise InvalidSignature("signature r/s out of range (s must be in the lower half, EIP-2)")
    try:
        public_key = coincurve.PublicKey.from_signature_and_message(
            signature[:64] + bytes([v - 27]), eip191_hash(digest), hasher=None
        )
    except Exception as exc:  # coincurve raises ValueError / generic Exception on bad points
        raise InvalidSignature(f"signature does not recover a public key: {exc}") from exc
    return address_of_public_key(public_key)


@dataclass(frozen=True)
class Identity:
    """A named signing key. ``sign_digest`` produces EIP-191 signatures any Ethereum tool can check."""

    name: str
    address: Address
    _private_key: coincurve.PrivateKey

    @classmethod
    def generate(cls, name: str) -> Identity:
        """Create a new random identity."""
        return cls.from_private_key(name, secrets.token_bytes(32))

    @classmethod
    def from_private_key(cls, name: str, private_key: bytes) -> Identity:
        """Wrap an existing 32-byte private key."""
        check_identity_name(name)
        try:
            key = coincurve.PrivateKey(private_key)
        except Exception as exc:
            raise KeystoreError(f"invalid secp256k1 private key for {name!r}") from exc
        return cls(name, address_of_public_key(key.public_key), key)

    def sign_digest(self, digest: bytes) -> bytes:
        """Sign a 32-byte digest (EIP-191); returns 65 bytes ``r || s || v`` with v in {27, 28}."""
        raw = self._private_key.sign_recoverable(eip191_hash(digest), hasher=None)
        return raw[:64] + bytes([raw[64] + 27])

    @property
    def private_key(self) -> bytes:
        """The raw private key (only for writing keystores)."""
        return bytes(self._private_key.secret)

    def __repr__(self) -> str:
        return f"Identity(name={self.name!r}, address={self.address})"


def check_identity_name(name: str) -> None:
    """Raise ``ConfigError`` unless ``name`` is a safe identity name (letters, digits, ``_.-``)."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ConfigError(
            f"invalid identity name {name!r}: use 1-64 letters, digits, '_', '.', '-', starting alphanumeric"
        )


@dataclass(frozen=True)
class KeyInfo:
    """What can be said about a stored key without its password."""

    name: str
    address: Address
    encrypted: bool
    path: Path


class KeyStore:
    """A folder of identities: Web3 Secret Storage (V3) keystores, or clearly labelled plaintext ones."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    def _path(self, name: str) -> Path:
        check_identity_name(name)
        return self.folder / f"{name}.json"

    def create(
        self,
        name: str,
        password: str | None,
        *,
        unencrypted: bool = False,
        identity: Identity | None = None,
        kdf: Literal["scrypt", "pbkdf2"] = "scrypt",
    ) -> Identity:
        """Create and store a new identity (or store ``identity``) under ``name``.

        ``password`` is required unless ``unencrypted`` is set, which writes the key in plaintext with a
        warning label: for demos and tests only.
        """
        path = self._path(name)
        if path.exists():
            raise AlreadyExists(f"identity {name!r} exists already ({path})")
        if not unencrypted and not password:
            raise KeystoreError(f"a password is needed to encrypt {name!r} (set LEDGERML_PASSWORD)")
        ident = identity if identity is not None else Identity.generate(name)
        if ident.name != name:
            ident = Identity.from_private_key(name, ident.private_key)
        document: dict[str, Any]
        if unencrypted:
            document = {
                "ledgerml_unencrypted": True,
                "warning": UNENCRYPTED_WARNING,
                "address": ident.address,
                "private_key": ident.private_key.hex(),
            }
        else:
            assert password is not None
            from eth_account import Account  # imported here: it costs ~1 s at start-up

            document = Account.encrypt(ident.private_key, password, kdf=kdf)
        document["ledgerml_name"] = name
        self.folder.mkdir(parents=True, exist_ok=True)
        _write_new_file(path, json.dumps(document, indent=2).encode())
        return ident

    def load(self, name: str, password: str | None) -> Identity:
        """Open the identity ``name``; raise ``KeystoreError`` on a wrong or missing password."""
        path = self._path(name)
        document = self._read(name, path)
        if document.get("ledgerml_unencrypted"):
            return Identity.from_private_key(name, bytes.fromhex(str(document["private_key"])))
        if not password:
            raise KeystoreError(f"identity {name!r} is encrypted: set LEDGERML_PASSWORD or enter a password")
        try:
            from eth_account import Account

            private_key = Account.decrypt(document, password)
        except ValueError as exc:
            raise KeystoreError(f"cannot open identity {name!r}: wrong password or damaged keystore") from exc
        ident = Identity.from_private_key(name, bytes(private_key))
        stored = document.get("address")
        if stored and to_address("0x" + str(stored).removeprefix("0x")) != ident.address:
            raise KeystoreError(f"keystore {path} names another address than its key")
        return ident

    def info(self, name: str) -> KeyInfo:
        """Name, address and encryption of a stored identity."""
        path = self._path(name)
        document = self._read(name, path)
        raw_address = str(document.get("address", ""))
        address = to_address(raw_address if raw_address.startswith("0x") else "0x" + raw_address)
        return KeyInfo(name, address, not document.get("ledgerml_unencrypted", False), path)

    def list(self) -> list[KeyInfo]:
        """Every stored identity, sorted by name."""
        if not self.folder.is_dir():
            return []
        return [self.info(path.stem) for path in sorted(self.folder.glob("*.json"))]

    def find(self, address: Address) -> KeyInfo | None:
        """The stored identity with ``address``, if any."""
        return next((info for info in self.list() if info.address == address), None)

    def _read(self, name: str, path: Path) -> dict[str, Any]:
        if not path.exists():
            raise NotFound(f"no identity named {name!r} in {self.folder}")
        try:
            document = loads_bounded(path.read_text())
        except (OSError, ValueError) as exc:
            raise KeystoreError(f"keystore {path} is unreadable: {exc}") from exc
        if not isinstance(document, dict):
            raise KeystoreError(f"keystore {path} is not a JSON object")
        return document


def _write_new_file(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file atomically with mode 0600; never overwrite."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.link(tmp, path)  # fails if path appeared meanwhile
    except FileExistsError as exc:
        raise AlreadyExists(f"{path} exists already") from exc
    finally:
        os.unlink(tmp)


def password_from_env() -> str | None:
    """The keystore password from ``LEDGERML_PASSWORD``, if set."""
    return os.environ.get("LEDGERML_PASSWORD") or None


__all__ = [
    "UNENCRYPTED_WARNING",
    "Identity",
    "KeyInfo",
    "KeyStore",
    "check_identity_name",
    "eip191_hash",
    "recover_signer",
]
