"""The one canonical encoder (``to_bytes``, ``weights_digest``): safetensors' own bytes, for any names, dtypes,
shapes (0-d and empty too) and layouts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.numpy import save

from ledgerml.errors import MalformedEvent
from ledgerml.ml.serialization import Weights, digest_of, from_bytes, to_bytes, weights_digest
from ledgerml.types import Digest

_DTYPES = ["<f8", ">f8", "<f4", "<f2", "<i4", ">i2", "<u8", "<i8", "u1", "i1", "<u2", "<u4", "<c8", "?"]
_NAMES = st.one_of(st.from_regex(r"[A-Za-z0-9_.:/-]{1,12}", fullmatch=True), st.text(max_size=6))
_SHAPES = st.one_of(st.none(), st.lists(st.integers(0, 4), max_size=3))  # None: a 0-d array


def _library(weights: Weights) -> bytes:
    """The ``safetensors`` library's own encoding of the arrays as ``to_bytes`` takes them (0-d: shape [1])."""
    return bytes(save({name: np.ascontiguousarray(array) for name, array in weights.items()}))


def _arrays(arrays: dict[str, tuple[list[int] | None, str]], seed: int, transpose: bool) -> Weights:
    """Random arrays of the drawn dtypes and shapes, transposed (not C-contiguous) if asked."""
    rng = np.random.default_rng(seed)
    weights = {}
    for name, (shape, dtype) in arrays.items():
        array = (rng.normal(0, 9, size=shape) if shape is not None else np.array(rng.normal())).astype(dtype)
        weights[name] = array.T if transpose else array
    return weights


@settings(max_examples=80, deadline=None)
@given(
    arrays=st.dictionaries(_NAMES, st.tuples(_SHAPES, st.sampled_from(_DTYPES)), max_size=6),
    seed=st.integers(0, 2**32 - 1),
    transpose=st.booleans(),
)
def test_the_encoding_is_the_safetensors_librarys_own(
    arrays: dict[str, tuple[list[int] | None, str]], seed: int, transpose: bool
) -> None:
    """The same bytes and digest as the library, or refused as the library refuses (names it cannot encode)."""
    weights = _arrays(arrays, seed, transpose)
    try:
        expected = _library(weights)
    except Exception:
        with pytest.raises(ValueError):  # UnicodeEncodeError: a lone surrogate in a name
            to_bytes(weights)
        return
    assert to_bytes(weights) == expected
    assert weights_digest(weights) == Digest.sha256(expected)
    assert digest_of(weights) == str(Digest.sha256(expected))


def test_names_are_laid_out_by_dtype_then_by_name_and_escaped_as_safetensors_does() -> None:
    """Larger dtypes first, then names as UTF-8 bytes; JSON escapes only what serde_json escapes."""
    weights = {"b": np.zeros(2, "<f4"), "a": np.ones(1), 'é\n\x7f\x01"\\': np.zeros(1), "__metadata__": np.ones(3)}
    weights.update({"z": np.array(True), "": np.zeros((0, 3), "<u8")})
    assert to_bytes(weights) == _library(weights)
    assert to_bytes({}) == _library({}) == b"\x08" + bytes(7) + b"{}      "


@pytest.mark.parametrize("value", [np.zeros(2, dtype=np.complex128), np.array(["x"]), np.zeros(1, dtype=object)])
def test_dtypes_without_a_safetensors_code_are_refused(value: np.ndarray) -> None:
    """An array safetensors cannot hold is refused, not encoded in some form of its own."""
    with pytest.raises(ValueError, match="no safetensors encoding"):
        to_bytes({"w": value})
    with pytest.raises(ValueError, match="no safetensors encoding"):
        weights_digest({"w": value})


def _same_decoding(data: bytes) -> None:
    """``from_bytes(data, copy=False)`` gives what ``from_bytes(data)`` gives - names, dtypes, shapes and bits - or
    the same error; when it serves views they are read-only views of ``data``."""
    try:
        expected = from_bytes(data)
    except MalformedEvent:
        with pytest.raises(MalformedEvent):
            from_bytes(data, copy=False)
        return
    got = from_bytes(data, copy=False)
    assert list(got) == list(expected)
    for name, array in got.items():
        assert array.dtype == expected[name].dtype and array.shape == expected[name].shape
        assert array.tobytes() == expected[name].tobytes()
        if array.base is not None and np.shares_memory(array, np.frombuffer(data, np.uint8)):
            assert not array.flags.writeable


@settings(max_examples=80, deadline=None)
@given(
    arrays=st.dictionaries(_NAMES, st.tuples(_SHAPES, st.sampled_from(_DTYPES)), max_size=6),
    seed=st.integers(0, 2**32 - 1),
    cuts=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=3),
    tail=st.binary(max_size=3),
)
def test_views_decode_exactly_as_safetensors_and_only_canonical_bytes(
    arrays: dict[str, tuple[list[int] | None, str]], seed: int, cuts: list[tuple[int, int]], tail: bytes
) -> None:
    """Canonical bytes of float arrays are served as views, zero-copy; the same bytes with bytes changed (header
    or data), cut short or followed by more decode exactly as the library decodes them, or fail as it fails."""
    weights = _arrays(arrays, seed, False)
    try:
        data = to_bytes(weights)
    except ValueError:
        return
    _same_decoding(data)
    if weights and all(np.dtype(a.dtype).kind == "f" and a.ndim for a in weights.values()):
        assert all(not a.flags.writeable for a in from_bytes(data, copy=False).values())  # no copy was made
    changed = bytearray(data)
    for at, value in cuts:
        if changed:
            changed[at % len(changed)] = value
    _same_decoding(bytes(changed))
    _same_decoding(data + tail)
    _same_decoding(data[: len(data) // 2])


def test_views_fall_back_on_what_the_fast_path_does_not_serve() -> None:
    """A header with metadata, a duplicated name, integer or 0-d arrays, or padding not canonical: safetensors
    decodes it (writable copies), with the library's own answer."""
    floats = {"b": np.arange(3.0), "a": np.ones((2, 2), dtype=np.float32)}
    with_metadata = bytes(save(floats, metadata={"k": "v"}))
    assert all(a.flags.writeable for a in from_bytes(with_metadata, copy=False).values())
    _same_decoding(with_metadata)
    ints = to_bytes({"a": np.arange(4)})
    assert from_bytes(ints, copy=False)["a"].flags.writeable
    header_end = 8 + int.from_bytes(to_bytes(floats)[:8], "little")
    text = to_bytes(floats)[8:header_end].decode()
    duplicated = text.replace('{"a":', '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":', 1)
    raw = duplicated.encode() + b" " * (-len(duplicated) % 8)
    _same_decoding(len(raw).to_bytes(8, "little") + raw + to_bytes(floats)[header_end:])
    with pytest.raises(MalformedEvent):
        from_bytes(b"\xff" * 16, copy=False)
    named_metadata = to_bytes({"__metadata__": np.arange(2.0)})  # the library reads it as metadata, and refuses
    _same_decoding(named_metadata)
    with pytest.raises(MalformedEvent):
        from_bytes(named_metadata, copy=False)
    long_header = b'{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}'
    long_header += b" " * (100_000_008 - len(long_header))  # past the limit: never a view
    oversized = len(long_header).to_bytes(8, "little") + long_header + bytes(8)
    with pytest.raises(MalformedEvent):
        from_bytes(oversized, copy=False)
