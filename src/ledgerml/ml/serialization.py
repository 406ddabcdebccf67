"""Weights as safetensors bytes (the unit that is hashed, signed and stored) and as flat float64 vectors.

``to_bytes`` is the one canonical encoder: safetensors' own layout (the header in data order, padded to 8 bytes,
then every array's little-endian bytes), built here in one copy, and ``weights_digest`` hashes that same layout
straight from the arrays without building it (at 10 M parameters an 80 MB copy per participant per round saved;
safetensors' own encoder copies several times: 0.3 s for 80 MB). ``tests/ml/test_serialization.py`` holds both to
the ``safetensors`` library's output, byte for byte."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
from safetensors.numpy import load

from .._json import loads_bounded
from ..errors import MalformedEvent
from ..types import Digest

Weights = dict[str, np.ndarray]

_CODES = {"uint64": "U64", "int64": "I64", "float64": "F64", "complex64": "C64", "float32": "F32", "uint32": "U32"}
_CODES |= {"int32": "I32", "float16": "F16", "uint16": "U16", "int16": "I16", "int8": "I8", "uint8": "U8"}
_CODES |= {"bool": "BOOL"}
"""safetensors' dtype codes for numpy's own types, in the order it lays their data out (then by name)."""
_RANK = {code: rank for rank, code in enumerate(_CODES.values())}


def _canonical_arrays(weights: Weights) -> dict[str, np.ndarray]:
    """Every array C-contiguous (0-d as shape [1], as ``np.ascontiguousarray`` makes it) and little-endian, in
    safetensors' data order; ``ValueError`` for a dtype safetensors has no code for, ``TypeError`` for a name
    that is not a string."""
    arrays: dict[str, np.ndarray] = {}
    for name, value in weights.items():
        if not isinstance(name, str):
            raise TypeError(f"array names must be strings, not {type(name).__name__}")
        array = np.ascontiguousarray(value)
        if array.dtype.name not in _CODES:
            raise ValueError(f"arrays of dtype {array.dtype.name} have no safetensors encoding")
        arrays[name] = array.astype(array.dtype.newbyteorder("<"), copy=False)  # a copy only if big-endian
    return dict(sorted(arrays.items(), key=lambda item: (_RANK[_CODES[item[1].dtype.name]], item[0])))


def _header(arrays: dict[str, np.ndarray]) -> bytes:
    """The encoding's first bytes: the header's length (8 bytes, little-endian), then its JSON (serde_json's
    compact form: non-ASCII as UTF-8), padded with spaces to a multiple of 8."""
    entries, offset = [], 0
    for name, array in arrays.items():
        size = int(array.nbytes)
        shape = ",".join(str(n) for n in array.shape)
        entries.append(
            f"{json.dumps(name, ensure_ascii=False)}:"
            f'{{"dtype":"{_CODES[array.dtype.name]}","shape":[{shape}],"data_offsets":[{offset},{offset + size}]}}'
        )
        offset += size
    text = ("{" + ",".join(entries) + "}").encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text


def _parts(weights: Weights) -> Iterator[bytes | memoryview]:
    """The encoding piece by piece: the header, then each array's bytes as a view (no copy)."""
    arrays = _canonical_arrays(weights)
    yield _header(arrays)
    for array in arrays.values():
        yield array.reshape(-1).view(np.uint8).data


def to_bytes(weights: Weights) -> bytes:
    """Canonical safetensors encoding (names in safetensors' data order, arrays C-contiguous), in one copy."""
    return b"".join(_parts(weights))


def weights_digest(weights: Weights) -> Digest:
    """``Digest.sha256(to_bytes(weights))``, hashed straight from the arrays."""
    digest = hashlib.sha256()
    for part in _parts(weights):
        digest.update(part)
    return Digest("sha256", digest.digest())


def from_bytes(data: bytes, *, copy: bool = True) -> Weights:
    """Decode safetensors bytes, names in sorted order (safetensors' own order varies from call to call, and
    anything drawn per array - attack noise, DP noise - must not depend on it); ``MalformedEvent`` if they are
    not a valid safetensors document.

    ``copy=False``: when ``data`` is exactly the canonical encoding (:func:`to_bytes`) of float arrays, the
    arrays are read-only views of ``data`` itself, no copy (at 10 M parameters safetensors' copy costs 0.09 s
    per update); any other document is decoded by safetensors, as with ``copy=True``, with the same values."""
    if not copy:
        try:
            views = _canonical_views(data)
        except ValueError:  # numpy refusing a view: safetensors gives the answer
            views = None
        if views is not None:
            return views
    try:
        loaded = load(data)
    except Exception as exc:  # safetensors raises its own SafetensorError
        raise MalformedEvent(f"not a valid safetensors update: {exc}") from None
    return {name: loaded[name] for name in sorted(loaded)}


MAX_HEADER_BYTES = 100_000_000
"""The safetensors library's largest header: a longer one is its error, not a view, and a streamed read
(``federated.streaming``) refuses it too, so both paths accept exactly the same updates."""
FLOAT_DTYPES: dict[str, np.dtype[Any]] = {"F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2")}
"""safetensors' float dtype codes as numpy dtypes: what :func:`_canonical_views` serves without a copy (the
others go through safetensors) and what a streamed update may hold (``federated.streaming``)."""


def _canonical_views(data: bytes) -> Weights | None:
    """Read-only arrays over ``data``, by sorted name, if ``data`` is ``to_bytes`` of exactly them (its header
    rebuilt from the arrays gives back the same bytes, and nothing follows their data); else None. Then
    safetensors decodes ``data`` to the same values, since ``to_bytes`` is its own layout byte for byte."""
    if type(data) is not bytes or len(data) < 8:
        return None
    length = int.from_bytes(data[:8], "little")
    if length > len(data) - 8 or length > MAX_HEADER_BYTES:
        return None
    try:  # a safetensors header nests 3 deep; anything odd is the library's to judge
        header = loads_bounded(data[8 : 8 + length], what="header", max_bytes=MAX_HEADER_BYTES, max_depth=8)
    except MalformedEvent:
        return None
    if type(header) is not dict or "__metadata__" in header:  # the library reads that name as metadata
        return None
    views: Weights = {}
    for name, entry in header.items():
        view = _entry_view(data, 8 + length, entry)
        if view is None:
            return None
        views[name] = view
    arrays = _canonical_arrays(views)  # contiguous little-endian views already: no copy
    if _header(arrays) != data[: 8 + length] or 8 + length + sum(a.nbytes for a in arrays.values()) != len(data):
        return None
    return {name: views[name] for name in sorted(views)}


def _entry_view(data: bytes, base: int, entry: object) -> np.ndarray | None:
    """The array one header entry describes, as a view of ``data`` (whose tensors start at ``base``); None
    when the entry is not a float tensor whose offsets lie in ``data`` and fit its shape."""
    if type(entry) is not dict or set(entry) != {"dtype", "shape", "data_offsets"}:
        return None
    code, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    dtype = FLOAT_DTYPES.get(code) if type(code) is str else None
    if dtype is None or type(shape) is not list or not all(type(n) is int and n >= 0 for n in shape):
        return None
    if type(offsets) is not list or len(offsets) != 2 or not all(type(v) is int for v in offsets):
        return None
    count, (begin, end) = math.prod(shape), offsets
    if not 0 <= begin <= end <= len(data) - base or end - begin != count * dtype.itemsize:
        return None
    view: np.ndarray = np.frombuffer(data, dtype, count, base + begin).reshape(shape)
    return view


def digest_of(weights: Weights) -> str:
    """``sha256:<hex>`` of the canonical encoding."""
    return str(weights_digest(weights))


def flatten(weights: Weights) -> np.ndarray:
    """All arrays, in sorted name order, as one float64 vector."""
    return np.concatenate([np.asarray(weights[name], dtype=np.float64).ravel() for name in sorted(weights)])


def unflatten(vector: np.ndarray, template: Weights) -> Weights:
    """Split a flat vector back into arrays shaped and typed like ``template``; arrays whose dtype is the
    vector's are views of it (no copy: every caller passes a vector it just computed)."""
    out: Weights = {}
    offset = 0
    for name in sorted(template):
        size = template[name].size
        out[name] = (
            vector[offset : offset + size].reshape(template[name].shape).astype(template[name].dtype, copy=False)
        )
        offset += size
    if offset != vector.size:
        raise ValueError(f"vector has {vector.size} values, the template needs {offset}")
    return out
