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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import coincurve
from coincurve import _libsecp256k1
from coincurve.context import GLOBAL_CONTEXT
from coincurve.flags import EC_UNCOMPRESSED

from ._files import replace_atomically
from ._json import loads_bounded
from ._keccak import checksum_hex, keccak256
from .errors import AlreadyExists, ConfigError, InvalidSignature, KeystoreError, NotFound
from .types import Address, to_address

_EIP191_PREFIX = b"\x19Ethereum Signed Message:\n32"
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
UNENCRYPTED_WARNING = "UNENCRYPTED KEY - for demos and tests only, never for real use"
_ZERO = bytes(32)
_N_BYTES = _SECP256K1_N.to_bytes(32, "big")
_HALF_N_BYTES = (_SECP256K1_N // 2).to_bytes(32, "big")
_FFI, _LIB, _CTX = _libsecp256k1.ffi, _libsecp256k1.lib, GLOBAL_CONTEXT.ctx


def eip191_hash(digest: bytes) -> bytes:
    """The hash that an EIP-191 ``personal_sign`` of a 32-byte digest signs."""
    if len(digest) != 32:
        raise InvalidSignature(f"only 32-byte digests are signed, got {len(digest)} bytes")
    return keccak256(_EIP191_PREFIX + digest)


def _address_bytes(point: bytes) -> bytes:
    """The 20 address bytes of a public key's 64-byte point ``x || y`` (its uncompressed form without ``04``)."""
    return keccak256(point)[-20:]


def address_of_public_key(public_key: coincurve.PublicKey) -> Address:
    """The Ethereum address of a secp256k1 public key."""
    return Address(checksum_hex(_address_bytes(public_key.format(compressed=False)[1:]).hex()))


_RECOVERED: dict[bytes, Address] = {}
"""Signers recovered lately, by ``digest + signature``: a pure function's results, so a hit is the same answer
(as Bitcoin Core's signature cache; here a round's commitment is recovered when screened and again when the
ledger appends it). Bounded by :data:`_MAX_RECOVERED`; only successes are kept."""
_MAX_RECOVERED = 4096


def recover_signer(digest: bytes, signature: bytes) -> Address:
    """Recover the address that made an EIP-191 ``signature`` over ``digest``.

    Raises ``InvalidSignature`` if the signature is malformed, non-canonical (high s) or unrecoverable.
    """
    if type(digest) is not bytes or type(signature) is not bytes or len(digest) != 32 or len(signature) != 65:
        return Address(checksum_hex(recover_address(digest, signature).hex()))  # the error, or uncached
    key = digest + signature  # fixed lengths: one key per (digest, signature)
    signer = _RECOVERED.get(key)
    if signer is None:
        signer = Address(checksum_hex(recover_address(digest, signature).hex()))
        if len(_RECOVERED) >= _MAX_RECOVERED:
            _RECOVERED.clear()
        _RECOVERED[key] = signer
    return signer


def _as_bytes(value: object, what: str) -> bytes:
    """A bytes-like ``value`` as bytes (as coincurve's path took them); ``InvalidSignature`` for anything else."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise InvalidSignature(f"the {what} must be bytes, got {type(value).__name__}")


def recover_address(digest: bytes, signature: bytes) -> bytes:
    """The 20 address bytes :func:`recover_signer` checksums: the same checks and errors, libsecp256k1 called
    directly (coincurve's ``PublicKey.from_signature_and_message`` makes the same three calls with more Python)."""
    if type(signature) is not bytes or type(digest) is not bytes:
        signature, digest = _as_bytes(signature, "signature"), _as_bytes(digest, "digest")
    if len(signature) != 65:
        raise InvalidSignature(f"signature must be 65 bytes, got {len(signature)}")
    v = signature[64]
    if v not in (27, 28):
        raise InvalidSignature(f"signature v must be 27 or 28, got {v}")
    # 32-byte big-endian strings compare as the numbers they hold: 0 < r < n and 0 < s <= n // 2
    if not (_ZERO < signature[:32] < _N_BYTES and _ZERO < signature[32:64] <= _HALF_N_BYTES):
        raise InvalidSignature("signature r/s out of range (s must be in the lower half, EIP-2)")
    try:
        message = eip191_hash(digest)
    except InvalidSignature as exc:  # worded as recover_signer always reported it
        raise InvalidSignature(f"signature does not recover a public key: {exc}") from None
    parsed = _FFI.new("secp256k1_ecdsa_recoverable_signature *")
    if not _LIB.secp256k1_ecdsa_recoverable_signature_parse_compact(_CTX, parsed, signature[:64], v - 27):
        raise InvalidSignature("signature does not recover a public key: Failed to parse recoverable signature.")
    public_key = _FFI.new("secp256k1_pubkey *")
    if not _LIB.secp256k1_ecdsa_recover(_CTX, public_key, parsed, message):
        raise InvalidSignature("signature does not recover a public key: failed to recover ECDSA public key")
    out, size = _FFI.new("unsigned char[65]"), _FFI.new("size_t *", 65)
    _LIB.secp256k1_ec_pubkey_serialize(_CTX, out, size, public_key, EC_UNCOMPRESSED)
    return _address_bytes(_FFI.buffer(out, 65)[1:])


@dataclass(frozen=True)
class Identity:
    """A named signing key. ``sign_digest`` produces EIP-191 signatures any Ethereum tool can check."""

    name: str
    address: Address
    _private_key: coincurve.PrivateKey
    _encryption_key: bytes | None = field(default=None, repr=False, compare=False)

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

    @property
    def has_encryption_key(self) -> bool:
        """True if this identity carries its X25519 encryption key (keystores made by ledgerml do)."""
        return self._encryption_key is not None

    @property
    def encryption_private_key(self) -> bytes:
        """The raw X25519 private key; ``KeystoreError`` if this identity has none."""
        if self._encryption_key is None:
            raise KeystoreError(
                f"identity {self.name!r} has no encryption key: run 'ledgerml identity register-key {self.name}'"
            )
        return self._encryption_key

    @property
    def encryption_public_key(self) -> bytes:
        """The raw 32-byte X25519 public key."""
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

        return X25519PrivateKey.from_private_bytes(self.encryption_private_key).public_key().public_bytes_raw()

    def with_encryption_key(self, private_key: bytes | None = None) -> Identity:
        """This identity with an X25519 encryption key (``private_key``, or a new random one)."""
        key = private_key if private_key is not None else secrets.token_bytes(32)
        if len(key) != 32:
            raise KeystoreError(f"an X25519 private key is 32 bytes, got {len(key)}")
        return replace(self, _encryption_key=key)

    def __repr__(self) -> str:
        return f"Identity(name={self.name!r}, address={self.address})"


_ENCRYPTION_FIELD = "ledgerml_encryption"
_KEY_SEAL_INFO = b"ledgerml/keystore/x25519/v1"


def _seal_key_of(signing_key: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KEY_SEAL_INFO).derive(signing_key)


def seal_encryption_key(identity: Identity) -> dict[str, str]:
    """The keystore field holding ``identity``'s X25519 key: AES-256-GCM under a key derived (HKDF-SHA256) from
    the signing key, so it is exactly as protected as the signing key the keystore encrypts."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = secrets.token_bytes(12)
    sealed = AESGCM(_seal_key_of(identity.private_key)).encrypt(
        nonce, identity.encryption_private_key, identity.address.encode()
    )
    return {"suite": "X25519", "public_key": identity.encryption_public_key.hex(), "sealed": (nonce + sealed).hex()}


def open_encryption_key(identity: Identity, stored: Any, where: str) -> Identity:
    """``identity`` with the X25519 key of a keystore field written by :func:`seal_encryption_key`."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        raw = bytes.fromhex(str(stored["sealed"]))
        key = AESGCM(_seal_key_of(identity.private_key)).decrypt(raw[:12], raw[12:], identity.address.encode())
        opened = identity.with_encryption_key(key)
        if opened.encryption_public_key.hex() != stored["public_key"]:
            raise ValueError("public key mismatch")
    except (InvalidTag, KeyError, TypeError, ValueError, KeystoreError):
        raise KeystoreError(f"keystore {where}: the encryption key is damaged or belongs to another key") from None
    return opened


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
    encryption_public_key: str | None = None


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
            ident = replace(ident, name=name)
        if not ident.has_encryption_key:
            ident = ident.with_encryption_key()
        document = self._document(ident, password, unencrypted=unencrypted, kdf=kdf)
        self.folder.mkdir(parents=True, exist_ok=True)
        _write_new_file(path, json.dumps(document, indent=2).encode())
        return ident

    def _document(
        self, ident: Identity, password: str | None, *, unencrypted: bool, kdf: Literal["scrypt", "pbkdf2"]
    ) -> dict[str, Any]:
        """The keystore JSON of ``ident``: a V3 keystore (or the labelled plaintext form) plus its encryption key."""
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

            document = dict(Account.encrypt(ident.private_key, password, kdf=kdf))
        document["ledgerml_name"] = ident.name
        document[_ENCRYPTION_FIELD] = seal_encryption_key(ident)
        return document

    def load(self, name: str, password: str | None) -> Identity:
        """Open the identity ``name``; raise ``KeystoreError`` on a wrong or missing password."""
        path = self._path(name)
        document = self._read(name, path)
        if document.get("ledgerml_unencrypted"):
            try:
                raw = bytes.fromhex(str(document["private_key"]))
            except (KeyError, ValueError):
                raise KeystoreError(f"keystore {path} holds no readable private key") from None
            return self._with_encryption(Identity.from_private_key(name, raw), document, path)
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
        return self._with_encryption(ident, document, path)

    def _with_encryption(self, ident: Identity, document: dict[str, Any], path: Path) -> Identity:
        stored = document.get(_ENCRYPTION_FIELD)
        return ident if stored is None else open_encryption_key(ident, stored, str(path))

    def add_encryption_key(self, name: str, password: str | None) -> Identity:
        """Give an identity whose keystore predates encryption keys an X25519 key pair (the keystore is rewritten
        whole, mode 0600); an identity that has one is returned as it is."""
        ident = self.load(name, password)
        if ident.has_encryption_key:
            return ident
        path = self._path(name)
        document = self._read(name, path)
        ident = ident.with_encryption_key()
        document[_ENCRYPTION_FIELD] = seal_encryption_key(ident)
        replace_atomically(path, json.dumps(document, indent=2).encode(), private=True)
        return ident

    def export_v3(
        self, name: str, password: str | None, *, kdf: Literal["scrypt", "pbkdf2"] = "scrypt"
    ) -> dict[str, Any]:
        """The identity's signing key as a standard Web3 Secret Storage (V3) keystore, without ledgerml's fields.

        An encrypted keystore is exported as it is stored (after checking ``password`` opens it); an unencrypted
        one is encrypted with ``password``.
        """
        from eth_account import Account

        ident = self.load(name, password)
        document = self._read(name, self._path(name))
        if not password:
            raise KeystoreError(f"a password is needed to export {name!r} as an encrypted keystore")
        if document.get("ledgerml_unencrypted"):
            document = dict(Account.encrypt(ident.private_key, password, kdf=kdf))
        return {key: value for key, value in document.items() if not key.startswith("ledgerml_")}

    def import_v3(self, name: str, keystore: Any, password: str, *, unencrypted: bool = False) -> Identity:
        """Store the key of an existing V3 keystore (geth, Foundry, MetaMask, ...) as identity ``name``.

        The keystore is kept as it is - its cipher, KDF and ``password`` - with ledgerml's fields added (a new
        encryption key sealed under the signing key); ``unencrypted`` stores the key in plaintext instead.
        """
        from eth_account import Account

        path = self._path(name)
        if path.exists():
            raise AlreadyExists(f"identity {name!r} exists already ({path})")
        if not isinstance(keystore, dict) or not isinstance(keystore.get("crypto", keystore.get("Crypto")), dict):
            raise KeystoreError("not a V3 keystore: a JSON object with a 'crypto' object is expected")
        try:
            private_key = bytes(Account.decrypt(keystore, password))
        except Exception:  # eth_account raises ValueError, KeyError or TypeError on a bad file
            raise KeystoreError("cannot open the keystore to import: wrong password or damaged keystore") from None
        ident = Identity.from_private_key(name, private_key).with_encryption_key()
        stored = keystore.get("address")
        if stored and to_address("0x" + str(stored).removeprefix("0x")) != ident.address:
            raise KeystoreError("the keystore to import names another address than its key")
        if unencrypted:
            return self.create(name, None, unencrypted=True, identity=ident)
        document = {key: value for key, value in keystore.items() if not key.startswith("ledgerml_")}
        document["address"] = ident.address[2:].lower()
        document["ledgerml_name"] = name
        document[_ENCRYPTION_FIELD] = seal_encryption_key(ident)
        self.folder.mkdir(parents=True, exist_ok=True)
        _write_new_file(path, json.dumps(document, indent=2).encode())
        return ident

    def info(self, name: str) -> KeyInfo:
        """Name, address, encryption and encryption public key of a stored identity (no password needed)."""
        path = self._path(name)
        document = self._read(name, path)
        raw_address = str(document.get("address", ""))
        address = to_address(raw_address if raw_address.startswith("0x") else "0x" + raw_address)
        stored = document.get(_ENCRYPTION_FIELD)
        public = str(stored.get("public_key")) if isinstance(stored, dict) else None
        return KeyInfo(name, address, not document.get("ledgerml_unencrypted", False), path, public)

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
