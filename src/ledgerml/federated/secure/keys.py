"""X25519 key agreement: pairwise mask seeds and the keys that encrypt Shamir shares (ChaCha20-Poly1305)."""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from .prf import derive

PAIR_INFO = b"ledgerml-secagg/1 pair|"
SHARE_INFO = b"ledgerml-secagg/1 share|"
_NONCE = bytes(12)  # each share key encrypts exactly one message (it binds sender, recipient and round)


def new_key() -> X25519PrivateKey:
    """A fresh X25519 private key."""
    return X25519PrivateKey.generate()


def public_hex(key: X25519PrivateKey) -> str:
    """The public key of ``key`` as 64 hex digits."""
    return key.public_key().public_bytes_raw().hex()


def private_bytes(key: X25519PrivateKey) -> bytes:
    """The 32 raw bytes of a private key (what is secret-shared)."""
    return key.private_bytes_raw()


def private_key(raw: bytes) -> X25519PrivateKey:
    """A private key from its 32 raw bytes; ``ValueError`` if they are not 32."""
    if len(raw) != 32:
        raise ValueError("an X25519 private key is 32 bytes")
    return X25519PrivateKey.from_private_bytes(raw)


def public_key(hex_key: str) -> X25519PublicKey:
    """A public key from 64 hex digits; ``ValueError`` otherwise."""
    raw = bytes.fromhex(hex_key)
    if len(raw) != 32:
        raise ValueError("an X25519 public key is 32 bytes")
    return X25519PublicKey.from_public_bytes(raw)


def _agree(mine: X25519PrivateKey, theirs: str, info: bytes) -> bytes:
    shared = mine.exchange(public_key(theirs))
    if shared == bytes(32):
        raise ValueError("the peer's public key is a low-order point")
    return derive(shared, info)


def pair_seed(mine: X25519PrivateKey, theirs: str, context: bytes, a: str, b: str) -> bytes:
    """The mask seed ``a`` and ``b`` share (the same from either side: the names are sorted into the info)."""
    low, high = sorted((a, b))
    return _agree(mine, theirs, PAIR_INFO + context + f"|{low}|{high}".encode())


def shared_secret(mine: X25519PrivateKey, theirs: str) -> bytes:
    """The raw X25519 secret of ``mine`` and the public key ``theirs``; ``ValueError`` for a low-order point."""
    shared = mine.exchange(public_key(theirs))
    if shared == bytes(32):
        raise ValueError("the peer's public key is a low-order point")
    return shared


def _share_key(shared: bytes, context: bytes, sender: str, recipient: str) -> bytes:
    return derive(shared, SHARE_INFO + context + f"|{sender}|{recipient}".encode())


def seal(shared: bytes, context: bytes, sender: str, recipient: str, data: bytes) -> bytes:
    """``data`` encrypted and authenticated for ``recipient`` under the pair's ``shared_secret`` (only the two
    parties can open it; the key also binds the context, the sender and the recipient)."""
    return ChaCha20Poly1305(_share_key(shared, context, sender, recipient)).encrypt(_NONCE, data, context)


def unseal(shared: bytes, context: bytes, sender: str, recipient: str, data: bytes) -> bytes:
    """Open what ``sender`` sealed for ``recipient``; ``ValueError`` if it was not (or was changed)."""
    try:
        return ChaCha20Poly1305(_share_key(shared, context, sender, recipient)).decrypt(_NONCE, data, context)
    except InvalidTag:
        raise ValueError(f"the share from {sender} does not open (wrong key or tampered)") from None
