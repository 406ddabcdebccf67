"""Weights as safetensors bytes (the unit that is hashed, signed and stored) and as flat float64 vectors."""

from __future__ import annotations

import numpy as np
from safetensors.numpy import load, save

from ..errors import MalformedEvent
from ..types import Digest

Weights = dict[str, np.ndarray]


def to_bytes(weights: Weights) -> bytes:
    """Canonical safetensors encoding (sorted names, C-contiguous arrays)."""
    return bytes(save({name: np.ascontiguousarray(weights[name]) for name in sorted(weights)}))


def from_bytes(data: bytes) -> Weights:
    """Decode safetensors bytes, names in sorted order (safetensors' own order varies from call to call, and
    anything drawn per array - attack noise, DP noise - must not depend on it); ``MalformedEvent`` if they are
    not a valid safetensors document."""
    try:
        loaded = load(data)
    except Exception as exc:  # safetensors raises its own SafetensorError
        raise MalformedEvent(f"not a valid safetensors update: {exc}") from None
    return {name: loaded[name] for name in sorted(loaded)}


def digest_of(weights: Weights) -> str:
    """``sha256:<hex>`` of the canonical encoding."""
    return str(Digest.sha256(to_bytes(weights)))


def flatten(weights: Weights) -> np.ndarray:
    """All arrays, in sorted name order, as one float64 vector."""
    return np.concatenate([np.asarray(weights[name], dtype=np.float64).ravel() for name in sorted(weights)])


def unflatten(vector: np.ndarray, template: Weights) -> Weights:
    """Split a flat vector back into arrays shaped and typed like ``template``."""
    out: Weights = {}
    offset = 0
    for name in sorted(template):
        size = template[name].size
        out[name] = vector[offset : offset + size].reshape(template[name].shape).astype(template[name].dtype)
        offset += size
    if offset != vector.size:
        raise ValueError(f"vector has {vector.size} values, the template needs {offset}")
    return out
