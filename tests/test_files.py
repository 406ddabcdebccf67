"""_files.replace_atomically: the private and durable flags (mode 0600, fsync before the rename) and no leftovers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ledgerml import _files
from ledgerml.errors import ConfigError


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


def test_append_line_ends_a_torn_last_line_first_and_refuses_a_newline(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    _files.append_line(log, b"one")
    log.write_bytes(log.read_bytes() + b"tw")  # a crash cut the next line short
    _files.append_line(log, b"three")
    assert log.read_bytes() == b"one\ntw\nthree\n"
    with pytest.raises(ValueError, match="newline"):
        _files.append_line(log, b"four\nfive")
    assert log.read_bytes() == b"one\ntw\nthree\n"  # unchanged


def test_iter_lines_bounds_each_line_and_keeps_a_last_line_without_newline(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    log.write_bytes(b"a\n" + b"x" * 9 + b"\n" + b"y" * 100_000 + b"\nbb\n" + b"z" * 11 + b"\ncut")
    assert list(_files.iter_lines(log, 10, 10**6)) == [b"a", b"x" * 9, None, b"bb", None, b"cut"]
    (tmp_path / "empty").touch()
    assert list(_files.iter_lines(tmp_path / "empty", 10, 10)) == []
    with pytest.raises(ConfigError, match="cannot read"):
        list(_files.iter_lines(tmp_path / "missing.jsonl", 10, 10))


def test_iter_lines_reads_no_more_than_its_byte_bound(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    log.write_bytes(b"a\n" * 100)
    with pytest.raises(ConfigError, match="at most 199 are read"):
        list(_files.iter_lines(log, 10, 199))
    assert len(list(_files.iter_lines(log, 10, 200))) == 100
