"""Streamed aggregation from the artifact store: the in-memory bits, bounded memory, one-line errors."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from ledgerml.errors import ConfigError, MalformedEvent, NotFound
from ledgerml.federated import aggregation
from ledgerml.federated.aggregation import RULES, aggregate
from ledgerml.federated.streaming import StoredDeltas, aggregate_stored
from ledgerml.ml.serialization import Weights, flatten, to_bytes
from ledgerml.store import ArtifactCorrupted, LocalStore

# names chosen so sorted-name (flat) order differs from safetensors' own data layout (by dtype, then name)
TEMPLATE: Weights = {
    "a.bias": np.zeros(5, dtype=np.float32),
    "b.weight": np.zeros((7, 3), dtype=np.float64),
    "c.weight": np.zeros((4, 1100), dtype=np.float32),
}


def stored_round(
    tmp_path: Path, n: int, seed: int = 0, template: Weights = TEMPLATE
) -> tuple[LocalStore, list[str], Weights, np.ndarray]:
    """A store holding ``n`` updates shaped like ``template``, the global model, and example counts."""
    rng = np.random.default_rng(seed)
    store = LocalStore(tmp_path / "artifacts", fsync=False)
    base = {k: rng.normal(size=v.shape).astype(v.dtype) for k, v in template.items()}
    digests = []
    for i in range(n):
        scale = 10.0 ** (i % 5 - 2)
        update = {k: (v + scale * rng.normal(size=v.shape)).astype(v.dtype) for k, v in base.items()}
        digests.append(str(store.put(to_bytes(update))))
    return store, digests, base, rng.integers(1, 30, size=n).astype(float)


def in_memory(store: LocalStore, digests: list[str], base: Weights) -> np.ndarray:
    from ledgerml.ml.serialization import from_bytes

    return np.stack([flatten(from_bytes(store.get(d))) - flatten(base) for d in digests])


@pytest.mark.parametrize("rule", sorted(RULES))
def test_streamed_rules_give_the_in_memory_bits(rule: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aggregation, "BLOCK", 1000)  # several distance blocks across tensor boundaries
    store, digests, base, weights = stored_round(tmp_path, 11)
    expected = aggregate(rule, in_memory(store, digests, base), weights)
    got = aggregate_stored(rule, store, digests, base, weights)
    assert got.delta.tobytes() == expected.delta.tobytes()
    assert (got.accepted, got.rejected, got.info) == (expected.accepted, expected.rejected, expected.info)


@pytest.mark.parametrize("rule", ["fedavg", "median"])
def test_streamed_rules_hold_blocks_not_the_round(rule: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aggregation, "COLUMN_CELLS", 1 << 14)  # 128 KiB column blocks
    monkeypatch.setenv("LEDGERML_AGG_THREADS", "1")
    big = {"w": np.zeros((4, 50_000), dtype=np.float32), "b": np.zeros(10, dtype=np.float32)}
    store, digests, base, weights = stored_round(tmp_path, 30, template=big)
    d = flatten(base).size
    tracemalloc.start()
    try:
        aggregate_stored(rule, store, digests, base, weights)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * d * 8  # the base model and the result (d each) and a block; the round is 30 * d * 8


def test_every_file_is_closed(tmp_path: Path) -> None:
    store, digests, base, _ = stored_round(tmp_path, 3)
    with StoredDeltas(store, digests, base) as deltas:
        handles = list(deltas._handles)
        assert deltas.shape == (3, flatten(base).size)
    for handle in handles:
        with pytest.raises(OSError):
            os.fstat(handle)


def test_a_changed_update_is_detected_before_it_is_used(tmp_path: Path) -> None:
    store, digests, base, weights = stored_round(tmp_path, 3)
    path = store.path_of(digests[1])
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactCorrupted, match="corrupted"):
        aggregate_stored("fedavg", store, digests, base, weights)


def test_missing_or_misshapen_updates_are_one_error(tmp_path: Path) -> None:
    store, digests, base, weights = stored_round(tmp_path, 2)
    with pytest.raises(NotFound):
        aggregate_stored("fedavg", store, [*digests, "sha256:" + "0" * 64], base, weights)
    other = {**base, "a.bias": np.zeros(6, dtype=np.float32)}
    with pytest.raises(MalformedEvent, match="shape"):
        aggregate_stored("fedavg", store, digests, other, weights)
    extra = {**base, "d": np.zeros(1, dtype=np.float32)}
    with pytest.raises(MalformedEvent, match="holds tensors"):
        aggregate_stored("fedavg", store, digests, extra, weights)
    junk = str(store.put(b"\x04\x00\x00\x00\x00\x00\x00\x00null"))
    with pytest.raises(MalformedEvent, match="not a table"):
        aggregate_stored("fedavg", store, [junk], base, weights[:1])
    with pytest.raises(ConfigError):
        aggregate_stored("fedavg", store, [], base, weights[:0])


def _padded(update: Weights, header_bytes: int) -> bytes:
    """``to_bytes(update)`` with its header padded with spaces (JSON whitespace, as safetensors pads) to
    ``header_bytes``: the same tensors, a larger header."""
    data = to_bytes(update)
    length = int.from_bytes(data[:8], "little")
    header = data[8 : 8 + length].rstrip(b" ").ljust(header_bytes, b" ")
    return header_bytes.to_bytes(8, "little") + header + data[8 + length :]


@pytest.mark.slow
def test_streamed_and_in_memory_reads_accept_the_same_headers(tmp_path: Path) -> None:
    """A participant's update with a header past the JSON parser's default bound (64 MiB) but within
    safetensors' own (100,000,000 bytes) is read alike by the coordinator and by a streamed replay; one past
    safetensors' bound is refused by both. Before, the streamed replay refused what the round had accepted."""
    from ledgerml.ml.serialization import MAX_HEADER_BYTES, from_bytes

    store, digests, base, weights = stored_round(tmp_path, 2)
    update = from_bytes(store.get(digests[1]))
    big = str(store.put(_padded(update, 65 * 1024 * 1024)))
    assert all(np.array_equal(from_bytes(store.get(big))[k], update[k]) for k in update)
    expected = aggregate_stored("fedavg", store, digests, base, weights).delta
    assert np.array_equal(aggregate_stored("fedavg", store, [digests[0], big], base, weights).delta, expected)
    too_big = str(store.put(_padded(update, MAX_HEADER_BYTES + 1)))
    with pytest.raises(MalformedEvent):
        from_bytes(store.get(too_big))
    with pytest.raises(MalformedEvent, match="header of 100,000,001 bytes"):
        aggregate_stored("fedavg", store, [digests[0], too_big], base, weights)
