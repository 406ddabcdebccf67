"""``identity.recover_address`` / ``recover_signer`` (libsecp256k1 called directly) against coincurve's own path."""

from __future__ import annotations

import hashlib

import coincurve
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerml.errors import InvalidSignature
from ledgerml.identity import (
    _SECP256K1_N,
    Identity,
    address_of_public_key,
    eip191_hash,
    recover_address,
    recover_signer,
)

KEY = Identity.from_private_key("recovery", (11).to_bytes(32, "big"))


def _oracle(digest: bytes, signature: bytes) -> str:
    """``recover_signer`` as it was: coincurve's ``PublicKey.from_signature_and_message`` (the reference)."""
    if len(signature) != 65:
        raise InvalidSignature(f"signature must be 65 bytes, got {len(signature)}")
    v = signature[64]
    if v not in (27, 28):
        raise InvalidSignature(f"signature v must be 27 or 28, got {v}")
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big")
    if not (0 < r < _SECP256K1_N and 0 < s <= _SECP256K1_N // 2):
        raise InvalidSignature("signature r/s out of range (s must be in the lower half, EIP-2)")
    try:
        public_key = coincurve.PublicKey.from_signature_and_message(
            signature[:64] + bytes([v - 27]), eip191_hash(digest), hasher=None
        )
    except Exception as exc:
        raise InvalidSignature(f"signature does not recover a public key: {exc}") from exc
    return address_of_public_key(public_key)


def _outcome(fn, digest: bytes, signature: bytes) -> tuple[str, str]:
    try:
        return "ok", str(fn(digest, signature))
    except InvalidSignature as exc:
        return "error", str(exc)


def _edge(value: int) -> bytes:
    return value.to_bytes(32, "big")


SCALARS = st.one_of(
    st.binary(min_size=32, max_size=32),
    st.sampled_from([0, 1, _SECP256K1_N // 2, _SECP256K1_N // 2 + 1, _SECP256K1_N - 1, _SECP256K1_N, 2**256 - 1]).map(
        _edge
    ),
)


@settings(max_examples=150, deadline=None)
@given(
    digest=st.one_of(st.binary(min_size=32, max_size=32), st.binary(max_size=40)),
    r=SCALARS,
    s=SCALARS,
    v=st.sampled_from([0, 1, 26, 27, 28, 29]),
    tail=st.sampled_from([b"", b"\x00"]),
)
def test_same_result_and_error_as_coincurve(digest: bytes, r: bytes, s: bytes, v: int, tail: bytes) -> None:
    signature = r + s + bytes([v]) + tail
    assert _outcome(recover_signer, digest, signature) == _outcome(_oracle, digest, signature)


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=64))
def test_real_signatures_recover_their_signer(data: bytes) -> None:
    digest = hashlib.sha256(data).digest()
    signature = KEY.sign_digest(digest)
    assert recover_signer(digest, signature) == KEY.address == _oracle(digest, signature)
    assert recover_address(digest, signature) == bytes.fromhex(KEY.address[2:])


def test_high_s_twin_is_refused() -> None:
    digest = hashlib.sha256(b"twin").digest()
    signature = KEY.sign_digest(digest)
    s = _SECP256K1_N - int.from_bytes(signature[32:64], "big")
    twin = signature[:32] + _edge(s) + bytes([55 - signature[64]])
    with pytest.raises(InvalidSignature, match="lower half"):
        recover_signer(digest, twin)


@pytest.mark.parametrize("wrap", [bytearray, memoryview])
def test_bytes_like_inputs_recover_like_bytes(wrap: type) -> None:
    digest = hashlib.sha256(b"bytes-like").digest()
    signature = KEY.sign_digest(digest)
    assert recover_signer(wrap(digest), wrap(signature)) == KEY.address  # type: ignore[arg-type]


@pytest.mark.parametrize("digest, signature", [("a" * 32, b"\0" * 65), (b"\0" * 32, None), (None, b"\0" * 65)])
def test_inputs_that_are_not_bytes_are_an_invalid_signature(digest: object, signature: object) -> None:
    with pytest.raises(InvalidSignature, match="must be bytes"):
        recover_signer(digest, signature)  # type: ignore[arg-type]
