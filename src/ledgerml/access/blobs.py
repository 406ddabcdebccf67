"""Streaming large artifacts into and out of the store in bounded memory, the digest checked on the way.

A local store (``LocalStore``) is written through a temporary file in its own folder, hashed while it is written
and renamed into its content address; other stores receive a spooled temporary file through ``put_file``. Reads
hash what they hand out, and :meth:`HashingReader.check` refuses bytes that do not match their address.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from ..errors import NotFound
from ..store import ArtifactCorrupted, ArtifactStore, LocalStore, StoreWriteError
from ..types import Digest

T = TypeVar("T")
Sink = Callable[[memoryview], object]


def put_stream(store: ArtifactStore, produce: Callable[[Sink], T]) -> tuple[str, T]:
    """Store the bytes ``produce(sink)`` writes; returns their ``sha256:`` address and ``produce``'s result."""
    folder = store.root if isinstance(store, LocalStore) else Path(tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-seal-")
    try:
        with os.fdopen(fd, "wb") as handle:

            def sink(data: memoryview) -> None:
                digest.update(data)
                handle.write(data)

            result = produce(sink)
            handle.flush()
            if isinstance(store, LocalStore) and store.fsync:
                os.fsync(handle.fileno())
        address = "sha256:" + digest.hexdigest()
        if isinstance(store, LocalStore):
            target = store.path_of(address)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(tmp, 0o444)
            os.replace(tmp, target)
        else:
            store.put_file(tmp)
    except OSError as exc:
        raise StoreWriteError(f"cannot store a sealed artifact: {exc.strerror or exc}") from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    return address, result


class HashingReader(io.RawIOBase):
    """A read-only stream that hashes what it returns; :meth:`check` compares with the expected address."""

    def __init__(self, source: Any, address: str) -> None:
        self._source, self._address, self._digest = source, address, hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._source.read(size)
        self._digest.update(data)
        return data

    def readinto(self, buffer: Any) -> int:
        count: int = self._source.readinto(buffer)
        self._digest.update(memoryview(buffer)[:count])
        return count

    def check(self) -> None:
        """Read to the end; ``ArtifactCorrupted`` unless everything read hashes to the address."""
        while self.read(1 << 20):
            pass
        expected = bytes.fromhex(self._address.removeprefix("sha256:"))
        if not hmac.compare_digest(self._digest.digest(), expected):
            raise ArtifactCorrupted(
                f"artifact {self._address} is corrupted: its bytes hash to sha256:{self._digest.hexdigest()}"
            )


@contextmanager
def open_blob(store: ArtifactStore, address: str) -> Iterator[HashingReader]:
    """A stream over a stored artifact (a local store's file, read in place; others' bytes in memory)."""
    Digest.parse(address)
    if not store.has(address):
        raise NotFound(f"artifact {address} is not in the store")
    handle: Any
    if isinstance(store, LocalStore):
        try:
            handle = open(store.path_of(address), "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise NotFound(f"artifact {address} cannot be read: {exc.strerror or exc}") from None
    else:
        handle = io.BytesIO(store.get(address))
    try:
        yield HashingReader(handle, address)
    finally:
        handle.close()


__all__ = ["HashingReader", "open_blob", "put_stream"]
