"""The cryptography of sealed datasets as plain functions: HPKE key wrapping, chunked AEAD streams, key chains.

- Data keys are 32 random bytes, one per key epoch of a dataset. They are wrapped for each reader with
  HPKE (RFC 9180) base mode, suite DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM; the HPKE ``info``
  binds the ledger, the dataset, the epoch and the reader's address, so a wrapped key moved to another reader,
  dataset or epoch does not open.
- Content is encrypted file by file as a STREAM (Hoang, Reyhanitabar, Rogaway, Vizar 2015) of AES-256-GCM
  chunks under a per-file key derived with HKDF-SHA256 from the data key and a random 32-byte salt (the layout
  of Tink's AES-GCM-HKDF streaming AEAD): nonce = 11-byte big-endian chunk counter || 1-byte last-chunk flag,
  so chunks cannot be reordered, dropped or truncated without an authentication failure naming the chunk.
  Memory is bounded by the chunk size.
- Key regression for lazy revocation: each epoch's key bundle carries the previous epoch's key encrypted under
  a key derived from the new one, so current readers can open older versions while a revoked reader, who never
  receives the new key, cannot open anything encrypted after the revocation.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from ..errors import KeystoreError, TamperDetected

DATA_KEY_BYTES = 32
SALT_BYTES = 32
TAG_BYTES = 16
DEFAULT_CHUNK = 1 << 20
"""Plaintext bytes per AEAD chunk (1 MiB): memory per stream is about two chunks."""
MIN_CHUNK, MAX_CHUNK = 1 << 12, 1 << 24
MAGIC = b"LMLSEAL1"
HEADER = struct.Struct(">8sI32s")
"""Stream header: magic, chunk size, salt (44 bytes); authenticated as associated data of every chunk."""
STREAM_SUITE = "AES-256-GCM-HKDF-SHA256-STREAM"
HPKE_SUITE = "DHKEM(X25519,HKDF-SHA256)/HKDF-SHA256/AES-256-GCM"
WRAPPED_KEY_BYTES = 32 + DATA_KEY_BYTES + TAG_BYTES
"""An HPKE-wrapped data key: the 32-byte encapsulated key, the 32-byte data key and the tag."""


class Readable(Protocol):
    """Anything with ``read(size) -> bytes`` (a file, a hashing reader)."""

    def read(self, size: int = -1, /) -> bytes: ...


class DecryptionFailed(TamperDetected):
    """Ciphertext, a wrapped key or a key chain fails authentication: it was changed, swapped or is for another key."""


class WrongKey(KeystoreError):
    """The reader's private encryption key is not the one the data key was wrapped for."""


def new_data_key() -> bytes:
    """A fresh random 32-byte data key."""
    return os.urandom(DATA_KEY_BYTES)


def _suite() -> Any:
    from cryptography.hazmat.primitives import hpke

    return hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


def wrap_info(ledger_id: str, dataset_id: str, epoch: int, reader: str) -> bytes:
    """The HPKE ``info`` that binds a wrapped key to its ledger, dataset, epoch and reader."""
    return b"\x00".join(
        [b"ledgerml/data-key/v1", ledger_id.encode(), dataset_id.encode(), b"%d" % epoch, reader.encode()]
    )


def public_key_of(private_key: bytes) -> bytes:
    """The raw 32-byte X25519 public key of a raw private key."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    return X25519PrivateKey.from_private_bytes(private_key).public_key().public_bytes_raw()


def new_encryption_key() -> tuple[bytes, bytes]:
    """A fresh X25519 key pair as raw bytes ``(private, public)``."""
    private = os.urandom(32)
    return private, public_key_of(private)


def wrap_key(data_key: bytes, public_key: bytes, info: bytes) -> bytes:
    """HPKE-seal ``data_key`` to an X25519 ``public_key`` (RFC 9180 base mode, single shot)."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

    return bytes(_suite().encrypt(data_key, X25519PublicKey.from_public_bytes(public_key), info=info))


def unwrap_key(wrapped: bytes, private_key: bytes, info: bytes) -> bytes:
    """Open a wrapped data key with the reader's X25519 private key; ``DecryptionFailed`` if it does not open."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    if len(wrapped) != WRAPPED_KEY_BYTES:
        raise DecryptionFailed(f"a wrapped data key is {WRAPPED_KEY_BYTES} bytes, this one {len(wrapped)}")
    try:
        key = _suite().decrypt(wrapped, X25519PrivateKey.from_private_bytes(private_key), info=info)
    except InvalidTag:
        raise DecryptionFailed(
            "the wrapped data key does not open: it was made for another reader, dataset or epoch, or changed"
        ) from None
    return bytes(key)


def _hkdf(key: bytes, salt: bytes, info: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(key)


def chain_key(newer: bytes, previous: bytes, aad: bytes) -> bytes:
    """``previous`` encrypted under a key derived from ``newer`` (key regression from one epoch to the one before)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(_hkdf(newer, b"", b"ledgerml/key-chain/v1")).encrypt(bytes(12), previous, aad)


def unchain_key(newer: bytes, chained: bytes, aad: bytes) -> bytes:
    """The previous epoch's key from the newer one; ``DecryptionFailed`` if the chain was changed."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        return AESGCM(_hkdf(newer, b"", b"ledgerml/key-chain/v1")).decrypt(bytes(12), chained, aad)
    except InvalidTag:
        raise DecryptionFailed("the key chain to an earlier epoch does not open: the key bundle was changed") from None


def _nonce(counter: int, last: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def _read_full(source: Readable, size: int) -> bytes:
    parts, remaining = [], size
    while remaining:
        part = source.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def _fill(source: Readable, buffer: bytearray) -> int:
    """Read into ``buffer`` until it is full or the source ends; the number of bytes read."""
    view, filled = memoryview(buffer), 0
    readinto = getattr(source, "readinto", None)
    while filled < len(buffer):
        if readinto is not None:
            count = readinto(view[filled:])
        else:
            part = source.read(len(buffer) - filled)
            count = len(part)
            view[filled : filled + count] = part
        if not count:
            break
        filled += count
    return filled


def _aes(key: bytes) -> Any:
    from cryptography.hazmat.primitives.ciphers import algorithms

    return algorithms.AES(key)


def _gcm(aes: Any, nonce: bytes, tag: bytes | None = None) -> Any:
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

    cipher = Cipher(aes, modes.GCM(nonce, tag))
    return cipher.encryptor() if tag is None else cipher.decryptor()


def encrypt_stream(
    data_key: bytes,
    context: bytes,
    source: Readable,
    sink: Callable[[memoryview], object],
    *,
    chunk_size: int = DEFAULT_CHUNK,
    progress: Callable[[int], None] | None = None,
    digest: bool = True,
) -> str | None:
    """Encrypt ``source`` to ``sink`` chunk by chunk; returns the plaintext's ``sha256:`` digest (None without
    ``digest``). ``sink`` gets views of reused buffers: it must consume each before it returns.

    ``context`` (the dataset id and file path) is bound into the file key, so ciphertexts cannot be swapped.
    """
    if not MIN_CHUNK <= chunk_size <= MAX_CHUNK:
        raise ValueError(f"chunk size must be from {MIN_CHUNK} to {MAX_CHUNK} bytes")
    salt = os.urandom(SALT_BYTES)
    header = HEADER.pack(MAGIC, chunk_size, salt)
    aes = _aes(_hkdf(data_key, salt, b"ledgerml/stream/v1\x00" + context))
    sink(memoryview(header))
    hasher = hashlib.sha256() if digest else None
    current, following = bytearray(chunk_size), bytearray(chunk_size)
    sealed = bytearray(chunk_size + 15)
    size, counter = _fill(source, current), 0
    while True:
        following_size = _fill(source, following) if size == chunk_size else 0
        last = following_size == 0
        plain = memoryview(current)[:size]
        if hasher is not None:
            hasher.update(plain)
        encryptor = _gcm(aes, _nonce(counter, last))
        encryptor.authenticate_additional_data(header)
        written = encryptor.update_into(plain, sealed)
        encryptor.finalize()
        sink(memoryview(sealed)[:written])
        sink(memoryview(encryptor.tag))
        if progress is not None:
            progress(size)
        if last:
            return None if hasher is None else "sha256:" + hasher.hexdigest()
        current, following, size, counter = following, current, following_size, counter + 1


def decrypt_chunks(
    data_key: bytes, context: bytes, source: Readable, *, what: str = "the file"
) -> Iterator[memoryview]:
    """Yield the plaintext chunks of a stream written by :func:`encrypt_stream`, each one authenticated first.

    Each chunk is a view of a reused buffer, valid until the next one is asked for. ``DecryptionFailed`` names the
    chunk that fails (changed, reordered, truncated or for another key or file).
    """
    from cryptography.exceptions import InvalidTag

    header = _read_full(source, HEADER.size)
    if len(header) != HEADER.size:
        raise DecryptionFailed(f"{what}: the ciphertext is truncated (no complete header)")
    magic, chunk_size, salt = HEADER.unpack(header)
    if magic != MAGIC or not MIN_CHUNK <= chunk_size <= MAX_CHUNK:
        raise DecryptionFailed(f"{what}: not a ledgerml sealed stream (bad header)")
    aes = _aes(_hkdf(data_key, salt, b"ledgerml/stream/v1\x00" + context))
    sealed = chunk_size + TAG_BYTES
    current, following, plain = bytearray(sealed), bytearray(sealed), bytearray(chunk_size + 15)
    size, counter = _fill(source, current), 0
    while True:
        following_size = _fill(source, following) if size == sealed else 0
        last = following_size == 0
        try:
            if size < TAG_BYTES:
                raise InvalidTag
            view = memoryview(current)
            decryptor = _gcm(aes, _nonce(counter, last), bytes(view[size - TAG_BYTES : size]))
            decryptor.authenticate_additional_data(header)
            written = decryptor.update_into(view[: size - TAG_BYTES], plain)
            decryptor.finalize()
        except InvalidTag:
            raise DecryptionFailed(
                f"{what}: chunk {counter} fails authentication (changed, reordered, truncated, or another key)"
            ) from None
        yield memoryview(plain)[:written]
        if last:
            return
        current, following, size, counter = following, current, following_size, counter + 1


def same_digest(a: str, b: str) -> bool:
    """Constant-time comparison of two digests."""
    return hmac.compare_digest(a.encode(), b.encode())


def sealed_size(plaintext_size: int, chunk_size: int) -> int:
    """The ciphertext size of a plaintext of ``plaintext_size`` bytes."""
    chunks = max(1, -(-plaintext_size // chunk_size))
    return HEADER.size + plaintext_size + chunks * TAG_BYTES


__all__ = [
    "DEFAULT_CHUNK",
    "HPKE_SUITE",
    "STREAM_SUITE",
    "DecryptionFailed",
    "WrongKey",
    "chain_key",
    "decrypt_chunks",
    "encrypt_stream",
    "new_data_key",
    "new_encryption_key",
    "public_key_of",
    "same_digest",
    "sealed_size",
    "unchain_key",
    "unwrap_key",
    "wrap_info",
    "wrap_key",
]
