"""LocalStore writes the bytes it hashed straight from the caller's buffer (no chunked copy): a short write
continues where it stopped, a failed write leaves nothing, and what is read back is what was hashed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerml.store import LocalStore, StoreWriteError
from ledgerml.types import Digest


@settings(max_examples=25, deadline=None)
@given(data=st.binary(max_size=5000), step=st.integers(min_value=1, max_value=997))
def test_short_writes_continue_where_they_stopped(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, step: int
) -> None:
    store = LocalStore(tmp_path_factory.mktemp("s"), fsync=False)
    real = os.write
    calls: list[int] = []

    def short(fd: int, buffer: bytes) -> int:
        calls.append(len(buffer))
        return real(fd, memoryview(buffer)[:step])

    os.write = short  # type: ignore[assignment]
    try:
        digest = store.put(data)
    finally:
        os.write = real  # type: ignore[assignment]
    assert digest == Digest.sha256(data) and store.get(digest) == data
    assert len(calls) == max(1, -(-len(data) // step)) or not data


def test_a_bytearray_is_stored_as_the_bytes_it_held(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    data = bytearray(b"update bytes")
    digest = store.put(data)  # type: ignore[arg-type]
    data[0] = 0  # changing the caller's buffer afterwards changes nothing stored
    assert store.get(digest) == b"update bytes" and digest == Digest.sha256(b"update bytes")


def test_a_failing_write_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalStore(tmp_path)

    def full(fd: int, buffer: bytes) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(StoreWriteError, match="No space left on device"):
        store.put(b"x" * 100)
    monkeypatch.undo()
    assert store.list() == [] and [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_stored_objects_are_read_only(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    digest = store.put(b"abc")
    assert store.path_of(digest).stat().st_mode & 0o777 == 0o444
