"""_files.replace_atomically: the private and durable flags (mode 0600, fsync before the rename) and no leftovers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ledgerml import _files


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The descriptors ``os.fsync`` was called with (the call still happens)."""
    calls: list[int] = []
    real = os.fsync

    def counting(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(_files.os, "fsync", counting)
    return calls


@pytest.mark.parametrize(
    ("private", "durable", "synced"),
    [(False, None, 0), (True, None, 1), (True, False, 0), (False, True, 1), (True, True, 1), (False, False, 0)],
)
def test_durable_defaults_to_private_and_fsyncs_once(
    tmp_path: Path, fsyncs: list[int], private: bool, durable: bool | None, synced: int
) -> None:
    target = tmp_path / "doc.json"
    _files.replace_atomically(target, b"new", private=private, durable=durable)
    assert target.read_bytes() == b"new" and len(fsyncs) == synced
    if private:
        assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["doc.json"]


def test_private_resets_the_mode_of_a_stale_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "vault.json"
    stale = tmp_path / f".vault.json.tmp-{os.getpid()}"
    stale.write_bytes(b"old")
    stale.chmod(0o644)
    _files.replace_atomically(target, b"secret", private=True, durable=False)
    assert target.stat().st_mode & 0o777 == 0o600 and not stale.exists()


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "doc.json"
    target.write_bytes(b"old")

    def failing(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(_files.os, "fsync", failing)
    with pytest.raises(OSError):
        _files.replace_atomically(target, b"new", durable=True)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["doc.json"]
