"""Masks from seeds: HKDF-SHA256 derives a ChaCha20 key, whose keystream is read as uint64 words."""

from __future__ import annotations

import numpy as np
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SEED_BYTES = 32
MASK_INFO = b"ledgerml-secagg/1 mask"
_NONCE = bytes(16)  # ChaCha20's 16-byte counter||nonce block: every key is used for one stream only


def derive(secret: bytes, info: bytes, length: int = 32) -> bytes:
    """HKDF-SHA256 of ``secret`` with ``info`` (no salt), ``length`` bytes."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(secret)


def mask(seed: bytes, length: int) -> np.ndarray:
    """``length`` uint64 words of mask from a 32-byte ``seed``: the ChaCha20 keystream under a key derived
    from the whole seed (no folding: every bit of the seed changes the key)."""
    if len(seed) != SEED_BYTES:
        raise ValueError(f"a mask seed is {SEED_BYTES} bytes, got {len(seed)}")
    if length < 0:
        raise ValueError("a mask length is >= 0")
    key = derive(seed, MASK_INFO)
    stream = Cipher(algorithms.ChaCha20(key, _NONCE), mode=None).encryptor().update(bytes(8 * length))
    return np.frombuffer(stream, dtype="<u8").astype(np.uint64, copy=True)
