"""Files from outside and files we replace: reading a regular file within a size bound (before reading it),
checking that an output file can be written (before any work), and replacing a file whole or not at all (a
temporary file beside it, then one rename), and appending one line to a log."""

from __future__ import annotations

import fcntl
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import ConfigError, LedgerMLError, StorageError


def read_bounded(
    path: Path,
    limit: int,
    *,
    what: str | None = None,
    error: type[LedgerMLError] = ConfigError,
    unreadable: type[LedgerMLError] | None = None,
) -> bytes:
    """The bytes of the regular file ``path`` if it holds at most ``limit`` bytes (checked before reading).

    ``error`` when it is larger; ``unreadable`` (default: ``error``) when it does not exist, is not a regular file
    or cannot be read. Messages name ``what`` (default: the path).
    """
    label, failed = what or str(path), unreadable or error
    if not path.is_file():
        raise failed(f"{label} is not a regular file" if path.exists() else f"{label} does not exist")
    try:
        size = path.stat().st_size
        if size > limit:
            raise error(f"{label} is {size:,} bytes; at most {limit:,} are accepted")
        return path.read_bytes()
    except OSError as exc:
        raise failed(f"cannot read {label}: {exc.strerror or exc}") from None


def check_writable(path: Path, option: str = "--out", *, made_first: Path | None = None) -> None:
    """``StorageError`` before any work when a file cannot be written to ``path`` (given as ``option``): it is a
    folder, or its folder is missing or not writable. A file directly in ``made_first``, a folder the caller
    makes before writing, passes."""
    if path.is_dir():
        raise StorageError(f"{option} {path} is a folder; name a file to write")
    parent = path.parent
    if made_first is not None and parent.resolve() == made_first.resolve():
        return
    if not parent.is_dir():
        raise StorageError(f"{option} {path}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise StorageError(f"{option} {path}: the folder {parent} is not writable")


def replace_atomically(path: Path, data: bytes, *, private: bool = False, durable: bool | None = None) -> None:
    """Write ``data`` to ``path`` through ``.NAME.tmp-PID`` and ``os.replace``: readers and a crash see the old
    file or the new one, never half of one. The temporary file is removed when writing fails (``OSError``).

    ``private`` (keystores): the file is mode 0600 from its first byte. ``durable`` (default: ``private``): it is
    on disk (fsync) before the rename."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    durable = private if durable is None else durable
    try:
        if private or durable:
            mode = 0o600 if private else 0o666
            with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "wb") as handle:
                if private:
                    os.fchmod(handle.fileno(), 0o600)  # a stale temporary file keeps its old mode under O_TRUNC
                handle.write(data)
                if durable:
                    handle.flush()
                    os.fsync(handle.fileno())
        else:
            tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def append_line(path: Path, line: bytes) -> None:
    """Append ``line`` (no newline in it) and a newline to the log ``path`` (created if missing) under an
    exclusive ``flock``: no temporary file, no rename. When the log does not end in a newline (a crash cut its
    last line short), a newline goes first, so the torn line stays a line of its own that readers report, and
    this one is whole."""
    if b"\n" in line:
        raise ValueError("a log line cannot hold a newline")
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another appender's check and write are not interleaved with ours
        size = os.fstat(fd).st_size
        torn = size > 0 and os.pread(fd, 1, size - 1) != b"\n"
        view = memoryview((b"\n" if torn else b"") + line + b"\n")
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)  # releases the lock


def iter_lines(path: Path, max_line: int, max_bytes: int) -> Iterator[bytes | None]:
    """The lines of the regular file ``path`` without their newlines, one at a time; None for a line longer
    than ``max_line`` bytes, which is skipped unkept (memory stays within ``max_line``). ``ConfigError`` when it
    is not a regular file (a FIFO or a device is never read), holds more than ``max_bytes`` or cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{path} is not a regular file")
        if info.st_size > max_bytes:
            raise ConfigError(f"{path} is {info.st_size:,} bytes; at most {max_bytes:,} are read")
        with os.fdopen(fd, "rb") as handle:
            fd = -1  # the handle closes it
            yield from _lines(handle, max_line, max_bytes)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    finally:
        if fd >= 0:
            os.close(fd)


def _lines(handle: BinaryIO, max_line: int, max_bytes: int) -> Iterator[bytes | None]:
    """:func:`iter_lines`' lines of an open file, reading at most ``max_bytes`` (a file that grows stops there)."""
    left = max_bytes
    while left > 0 and (chunk := handle.readline(min(max_line + 1, left))):
        left -= len(chunk)
        if chunk.endswith(b"\n") or len(chunk) <= max_line:  # a whole line, or a last one cut short
            yield chunk.removesuffix(b"\n")
            continue
        yield None
        while left > 0 and chunk and not chunk.endswith(b"\n"):  # the rest of the long line
            chunk = handle.readline(min(1 << 16, left))
            left -= len(chunk)


__all__ = ["append_line", "check_writable", "iter_lines", "read_bounded", "replace_atomically"]
