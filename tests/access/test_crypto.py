"""The cryptography of sealed datasets: chunked AEAD streams, HPKE key wrapping, key chains, expiry parsing."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerml.access.crypto import (
    HEADER,
    MIN_CHUNK,
    TAG_BYTES,
    DecryptionFailed,
    chain_key,
    decrypt_chunks,
    encrypt_stream,
    new_data_key,
    new_encryption_key,
    sealed_size,
    unchain_key,
    unwrap_key,
    wrap_info,
    wrap_key,
)
from ledgerml.access.expiry import parse_expiry
from ledgerml.errors import ConfigError

KEY = bytes(range(32))
CHUNK = MIN_CHUNK


def seal(data: bytes, key: bytes = KEY, context: bytes = b"d|a.csv") -> tuple[bytes, str]:
    out = bytearray()
    digest = encrypt_stream(key, context, io.BytesIO(data), out.extend, chunk_size=CHUNK)
    assert digest is not None
    return bytes(out), digest


def unseal(blob: bytes, key: bytes = KEY, context: bytes = b"d|a.csv") -> bytes:
    return b"".join(bytes(chunk) for chunk in decrypt_chunks(key, context, io.BytesIO(blob), what="a.csv"))


@settings(max_examples=25)
@given(st.integers(min_value=0, max_value=3 * CHUNK + 5))
def test_stream_roundtrip_any_length(size: int) -> None:
    data = bytes(i % 251 for i in range(size))
    blob, digest = seal(data)
    assert len(blob) == sealed_size(size, CHUNK)
    assert unseal(blob) == data
    import hashlib

    assert digest == "sha256:" + hashlib.sha256(data).hexdigest()


def chunk_offset(index: int) -> int:
    return HEADER.size + index * (CHUNK + TAG_BYTES)


def test_a_changed_chunk_is_named() -> None:
    blob = bytearray(seal(b"x" * (3 * CHUNK))[0])
    blob[chunk_offset(2) + 7] ^= 1
    with pytest.raises(DecryptionFailed, match=r"a\.csv: chunk 2 fails authentication"):
        unseal(bytes(blob))


def test_chunks_before_a_bad_one_come_out_authenticated_and_the_rest_never() -> None:
    blob = bytearray(seal(b"y" * (3 * CHUNK))[0])
    blob[chunk_offset(1)] ^= 1
    chunks = decrypt_chunks(KEY, b"d|a.csv", io.BytesIO(bytes(blob)))
    assert bytes(next(chunks)) == b"y" * CHUNK
    with pytest.raises(DecryptionFailed, match="chunk 1"):
        next(chunks)


@pytest.mark.parametrize(
    "attack",
    [
        lambda b: b[: chunk_offset(2)],  # the last chunk dropped: chunk 1 was not sealed as last
        lambda b: b[: chunk_offset(1)] + b[chunk_offset(2) : chunk_offset(3)] + b[chunk_offset(1) : chunk_offset(2)],
        lambda b: b[:-1],  # the tag cut short
        lambda b: b[:20],  # the header cut short
        lambda b: b"LMLSEAL2" + b[8:],  # another format version
    ],
    ids=["truncated", "reordered", "short-tag", "short-header", "bad-magic"],
)
def test_truncation_reordering_and_bad_headers_fail(attack) -> None:  # type: ignore[no-untyped-def]
    blob = seal(b"z" * (2 * CHUNK + 100))[0]
    with pytest.raises(DecryptionFailed):
        unseal(attack(blob))


def test_another_key_or_another_file_context_fails_at_chunk_zero() -> None:
    blob = seal(b"secret rows")[0]
    with pytest.raises(DecryptionFailed, match="chunk 0"):
        unseal(blob, key=new_data_key())
    with pytest.raises(DecryptionFailed, match="chunk 0"):
        unseal(blob, context=b"d|b.csv")  # a ciphertext moved to another file of the dataset


def test_equal_plaintexts_give_different_ciphertexts() -> None:
    assert seal(b"same")[0] != seal(b"same")[0]


def test_hpke_wrap_is_bound_to_reader_dataset_and_epoch() -> None:
    private, public = new_encryption_key()
    other_private, _ = new_encryption_key()
    key = new_data_key()
    info = wrap_info("0" * 32, "sha256:" + "1" * 64, 3, "0xReader")
    wrapped = wrap_key(key, public, info)
    assert unwrap_key(wrapped, private, info) == key
    with pytest.raises(DecryptionFailed, match="does not open"):
        unwrap_key(wrapped, other_private, info)
    for changed in (
        wrap_info("0" * 32, "sha256:" + "1" * 64, 4, "0xReader"),
        wrap_info("0" * 32, "sha256:" + "2" * 64, 3, "0xReader"),
        wrap_info("0" * 32, "sha256:" + "1" * 64, 3, "0xOther"),
    ):
        with pytest.raises(DecryptionFailed):
            unwrap_key(wrapped, private, changed)
    with pytest.raises(DecryptionFailed, match="80 bytes"):
        unwrap_key(wrapped[:-1], private, info)


def test_key_chain_opens_only_with_the_newer_key_and_its_link() -> None:
    old, new = new_data_key(), new_data_key()
    link = chain_key(new, old, b"s|2")
    assert unchain_key(new, link, b"s|2") == old
    with pytest.raises(DecryptionFailed):
        unchain_key(old, link, b"s|2")
    with pytest.raises(DecryptionFailed):
        unchain_key(new, link, b"s|3")


NOW = 1_800_000_000_000


@pytest.mark.parametrize(
    ("text", "expected"),
    [("90m", NOW + 90 * 60_000), ("12h", NOW + 12 * 3_600_000), ("30d", NOW + 30 * 86_400_000)],
)
def test_expiry_durations(text: str, expected: int) -> None:
    assert parse_expiry(text, NOW) == expected


def test_expiry_iso_times_are_utc_unless_they_say() -> None:
    assert parse_expiry("2030-01-01", NOW) == 1_893_456_000_000
    assert parse_expiry("2030-01-01T01:00:00+01:00", NOW) == 1_893_456_000_000


@pytest.mark.parametrize("text", ["soon", "0d", "-5h", "2020-01-01", "12 h"])
def test_bad_or_past_expiry_is_one_config_error(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_expiry(text, NOW)
