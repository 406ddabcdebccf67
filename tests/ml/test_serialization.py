"""The one canonical encoder (``to_bytes``, ``weights_digest``): safetensors' own bytes, for any names, dtypes,
shapes (0-d and empty too) and layouts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.numpy import save

from ledgerml.ml.serialization import Weights, digest_of, to_bytes, weights_digest
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
