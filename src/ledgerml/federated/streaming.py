"""Aggregation over updates streamed from the artifact store, for rounds whose updates do not fit in memory.

``StoredDeltas`` reads each stored safetensors update by byte range (``os.pread``, no memory map, so nothing
but the block being worked on is resident) and serves the rules' ``Deltas`` interface: FedAvg and the
norm-clipped mean read each update once, row by row; median, trimmed mean and the Krum family read coordinate
blocks of every update. The bits equal those of the in-memory path (``aggregate`` on the stacked float64
deltas), so the auditor may replay either way. Each update's digest is checked (one streamed SHA-256 pass)
before it is read; the store's files are read-only, so a change after that check is outside the threat model
the store itself has (see docs/benchmarks.md).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import numpy as np

from .._json import loads_bounded
from ..errors import ConfigError, MalformedEvent, NotFound
from ..ml.serialization import FLOAT_DTYPES, MAX_HEADER_BYTES, Weights, flatten
from ..store import CHUNK, ArtifactCorrupted, ArtifactStore, LocalStore
from ..types import Digest
from .aggregation import AggregationResult, aggregate
from .weight_deltas import DeltaReader


@dataclass(frozen=True)
class Segment:
    """One tensor of an update: its place in the flat vector and in the file."""

    start: int
    size: int
    offset: int
    dtype: np.dtype[Any]


def read_layout(handle: Any, template: Weights, what: str) -> list[Segment]:
    """The tensors of a safetensors file in flat (sorted-name) order; ``MalformedEvent`` unless the names,
    shapes and dtypes (F16/F32/F64) match ``template``."""
    prefix = os.pread(handle, 8, 0)
    if len(prefix) != 8:
        raise MalformedEvent(f"{what} is not a valid safetensors update: too short")
    (length,) = struct.unpack("<Q", prefix)
    if length > MAX_HEADER_BYTES:
        raise MalformedEvent(f"{what} has a safetensors header of {length:,} bytes")
    header = loads_bounded(os.pread(handle, length, 8), what=f"{what}'s safetensors header", max_bytes=MAX_HEADER_BYTES)
    if not isinstance(header, dict):
        raise MalformedEvent(f"{what}'s safetensors header is not a table")
    header.pop("__metadata__", None)
    if sorted(header) != sorted(template):
        raise MalformedEvent(f"{what} holds tensors {sorted(header)[:5]}, the model has {sorted(template)[:5]}")
    segments, start, size = [], 0, os.fstat(handle).st_size
    for name in sorted(template):
        segment = _segment(header[name], template[name], start, 8 + length, size, f"{what} tensor {name!r}")
        segments.append(segment)
        start += segment.size
    return segments


def _segment(entry: Any, like: np.ndarray, start: int, base: int, file_size: int, what: str) -> Segment:
    """One header entry as a ``Segment``, checked against the template array and the file's size."""
    if not isinstance(entry, dict) or entry.get("dtype") not in FLOAT_DTYPES:
        raise MalformedEvent(f"{what} has dtype {entry.get('dtype') if isinstance(entry, dict) else None!r}")
    dtype = FLOAT_DTYPES[entry["dtype"]]
    shape, offsets = entry.get("shape"), entry.get("data_offsets")
    if shape != list(like.shape):
        raise MalformedEvent(f"{what} has shape {shape}, the model's is {list(like.shape)}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(v) is int for v in offsets)):
        raise MalformedEvent(f"{what} has no valid data offsets")
    begin, end = offsets
    if end - begin != like.size * dtype.itemsize or begin < 0 or base + end > file_size:
        raise MalformedEvent(f"{what}'s data offsets {offsets} do not fit its shape or the file")
    return Segment(start, like.size, base + begin, dtype)


def _check_digest(handle: int, digest: Digest) -> None:
    """Stream the file through SHA-256; ``ArtifactCorrupted`` if it is not ``digest``."""
    hasher, position = hashlib.sha256(), 0
    while chunk := os.pread(handle, CHUNK, position):
        hasher.update(chunk)
        position += len(chunk)
    if not hmac.compare_digest(hasher.digest(), digest.value):
        raise ArtifactCorrupted(f"artifact {digest} is corrupted: its bytes hash to sha256:{hasher.hexdigest()}")


class StoredDeltas(DeltaReader):
    """Deltas (stored update minus ``base``) of updates in a ``LocalStore``, read by column block or row.

    Open with ``with``; every file's digest is checked when it is opened. ``base`` is the current global
    model flattened (float64, as ``ml.serialization.flatten`` gives it)."""

    def __init__(self, store: ArtifactStore, digests: Sequence[Digest | str], template: Weights) -> None:
        if not isinstance(store, LocalStore):
            raise ConfigError("streamed aggregation reads a local artifact store (a folder)")
        if not digests:
            raise ConfigError("aggregation needs at least one update")
        self.base = flatten(template)
        self._handles: list[int] = []
        self._layouts: list[list[Segment]] = []
        try:
            for ref in digests:
                self._open(store, ref if isinstance(ref, Digest) else Digest.parse(ref), template)
        except BaseException:
            self.close()
            raise

    def _open(self, store: LocalStore, digest: Digest, template: Weights) -> None:
        if not store.has(digest):
            raise NotFound(f"artifact {digest} is not in the store")
        handle = os.open(store.path_of(digest), os.O_RDONLY)
        self._handles.append(handle)
        _check_digest(handle, digest)
        self._layouts.append(read_layout(handle, template, f"update {digest}"))

    @property
    def shape(self) -> tuple[int, int]:
        """``(updates, parameters)``."""
        return len(self._handles), int(self.base.size)

    def _read(self, i: int, lo: int, hi: int, out: np.ndarray) -> None:
        """Values ``lo:hi`` of update ``i``, widened to float64 into ``out``."""
        for segment in self._layouts[i]:
            a, b = max(lo, segment.start), min(hi, segment.start + segment.size)
            if a >= b:
                continue
            size = segment.dtype.itemsize
            raw = os.pread(self._handles[i], (b - a) * size, segment.offset + (a - segment.start) * size)
            out[a - lo : b - lo] = np.frombuffer(raw, dtype=segment.dtype)

    def close(self) -> None:
        """Close every file (idempotent)."""
        while self._handles:
            os.close(self._handles.pop())

    def __enter__(self) -> StoredDeltas:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def aggregate_stored(
    rule: str,
    store: ArtifactStore,
    digests: Sequence[Digest | str],
    template: Weights,
    weights: np.ndarray,
    params: dict[str, Any] | None = None,
) -> AggregationResult:
    """``aggregate(rule, ...)`` over the deltas of stored updates (in the order given) against ``template``,
    streamed: the same bits as stacking them in memory, in O(n * block + d) memory."""
    with StoredDeltas(store, digests, template) as deltas:
        return aggregate(rule, deltas, weights, params)
