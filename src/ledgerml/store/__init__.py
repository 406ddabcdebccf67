"""Content-addressed artifact store: bytes named by their SHA-256, re-checked on every read, never unpickled.

``LocalStore`` (a folder; the ledger home's ``artifacts/`` by default) writes atomically with a temporary
file and ``os.replace``; ``FsspecStore`` serves any fsspec URL (``memory://``, ``s3://``, ``gs://`` where the
driver is installed). Layout under the root: ``sha256/<first two hex>/<64 hex>``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import ConfigError, NotFound, StorageError, TamperDetected
from ..types import Digest

CHUNK = 1 << 20


class ArtifactCorrupted(TamperDetected):
    """A stored artifact's bytes no longer match the digest that names it."""


class StoreWriteError(StorageError):
    """The artifact store could not write an object (disk full, file too large, read-only, ...); nothing is left."""


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def sha256_file(path: str | os.PathLike[str]) -> Digest:
    """SHA-256 of a file, streamed in 1 MiB chunks; ``NotFound``/``ConfigError`` (one line) if it cannot be read."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
    except FileNotFoundError:
        raise NotFound(f"{os.fspath(path)} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {os.fspath(path)}: {_reason(exc)}") from None
    return Digest("sha256", digest.digest())


def _as_digest(ref: Digest | str) -> Digest:
    return ref if isinstance(ref, Digest) else Digest.parse(ref)


class ArtifactStore(ABC):
    """put/get/has/list/delete by digest; every read re-checks the digest."""

    def _key(self, digest: Digest) -> str:
        if digest.algorithm != "sha256":
            raise ConfigError("the artifact store holds sha256-addressed artifacts only")
        return f"sha256/{digest.hex[:2]}/{digest.hex}"

    @abstractmethod
    def _write_atomic(self, key: str, source: BinaryIO) -> None: ...

    def _write_bytes_atomic(self, key: str, data: bytes) -> None:
        """Write ``data`` under ``key`` atomically (a store that can write a buffer without copying it overrides
        this; by default it is streamed like a file)."""
        import io

        self._write_atomic(key, io.BytesIO(data))

    def _write(self, key: str, source: BinaryIO | bytes, digest: Digest) -> None:
        """``_write_atomic`` (or ``_write_bytes_atomic`` for bytes) with OS errors (disk full, ``EFBIG``,
        permissions) as one-line ``StoreWriteError``."""
        try:
            if isinstance(source, bytes):
                self._write_bytes_atomic(key, source)
            else:
                self._write_atomic(key, source)
        except OSError as exc:
            raise StoreWriteError(f"cannot store artifact {digest}: {_reason(exc)}") from None

    @abstractmethod
    def _read(self, key: str) -> bytes: ...

    @abstractmethod
    def _exists(self, key: str) -> bool: ...

    @abstractmethod
    def _remove(self, key: str) -> None: ...

    @abstractmethod
    def _keys(self) -> Iterator[str]: ...

    def put(self, data: bytes) -> Digest:
        """Store ``data``; returns its digest. Storing the same bytes twice is a no-op. The bytes written are
        the bytes hashed, in one pass each (no copy of ``data`` is made)."""
        digest = Digest.sha256(data)
        if not self._exists(self._key(digest)):
            self._write(self._key(digest), bytes(data), digest)
        return digest

    def put_file(self, path: str | os.PathLike[str]) -> Digest:
        """Store a file's bytes (streamed); returns its digest."""
        digest = sha256_file(path)
        if not self._exists(self._key(digest)):
            try:
                handle = open(path, "rb")  # noqa: SIM115 - closed below; open errors are the source's, not the store's
            except OSError as exc:
                raise ConfigError(f"cannot read {os.fspath(path)}: {_reason(exc)}") from None
            with handle:
                self._write(self._key(digest), handle, digest)
            stored = self._read(self._key(digest))  # the file may have changed while we copied it
            if not hmac.compare_digest(hashlib.sha256(stored).digest(), digest.value):
                self._remove(self._key(digest))
                raise ConfigError(f"{path} changed while it was being stored; try again")
        return digest

    def get(self, ref: Digest | str) -> bytes:
        """The bytes named by ``ref``; ``NotFound`` if absent, ``ArtifactCorrupted`` if they changed."""
        digest = _as_digest(ref)
        key = self._key(digest)
        if not self._exists(key):
            raise NotFound(f"artifact {digest} is not in the store")
        data = self._read(key)
        if not hmac.compare_digest(hashlib.sha256(data).digest(), digest.value):
            raise ArtifactCorrupted(
                f"artifact {digest} is corrupted: its bytes hash to sha256:{hashlib.sha256(data).hexdigest()}"
            )
        return data

    def has(self, ref: Digest | str) -> bool:
        """True if an artifact named ``ref`` is stored (its content is checked on ``get``)."""
        return self._exists(self._key(_as_digest(ref)))

    def list(self) -> list[Digest]:
        """Every stored digest, sorted."""
        return sorted((Digest("sha256", bytes.fromhex(key.rsplit("/", 1)[-1])) for key in self._keys()), key=str)

    def delete(self, ref: Digest | str) -> None:
        """Remove an artifact; ``NotFound`` if absent."""
        key = self._key(_as_digest(ref))
        if not self._exists(key):
            raise NotFound(f"artifact {ref} is not in the store")
        self._remove(key)


def _write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd`` through a memoryview (a short write continues where it stopped)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class LocalStore(ArtifactStore):
    """A store in a local folder; atomic writes (temporary file, ``os.replace``).

    ``fsync=True`` also flushes every object to disk before it is renamed into place, so it survives power
    loss; without it an object survives a killed process but not an OS crash (as SQLite's ``synchronous``
    ``normal`` vs ``full``). A ledger home uses the same setting for both.
    """

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.root = Path(root)
        self.fsync = fsync

    def _path(self, key: str) -> Path:
        return self.root / key

    def _write_atomic(self, key: str, source: BinaryIO) -> None:
        def copy(fd: int) -> None:
            while chunk := source.read(CHUNK):
                _write_all(fd, chunk)

        self._replace_into(key, copy)

    def _write_bytes_atomic(self, key: str, data: bytes) -> None:
        self._replace_into(key, lambda fd: _write_all(fd, data))

    def _replace_into(self, key: str, fill: Callable[[int], None]) -> None:
        """A temporary file beside the target, filled by ``fill(fd)``, fsynced if asked, read-only, renamed."""
        target = self._path(key)
        if not target.parent.is_dir():
            target.parent.mkdir(parents=True, exist_ok=True)
        tmp = str(target.parent / f".tmp-{os.getpid()}-{os.urandom(6).hex()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            try:
                fill(fd)
                if self.fsync:
                    os.fsync(fd)
                os.fchmod(fd, 0o444)
            finally:
                os.close(fd)
            os.replace(tmp, target)  # concurrent writers of one digest write identical bytes: last one wins
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _read(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def _exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def _remove(self, key: str) -> None:
        self._path(key).unlink()

    def _keys(self) -> Iterator[str]:
        base = self.root / "sha256"
        if base.is_dir():
            for path in base.glob("*/*"):
                if not path.name.startswith(".") and len(path.name) == 64:
                    yield f"sha256/{path.parent.name}/{path.name}"

    def path_of(self, ref: Digest | str) -> Path:
        """Where a stored artifact lives on disk (read-only; check it with ``get`` before trusting it)."""
        return self._path(self._key(_as_digest(ref)))


class FsspecStore(ArtifactStore):
    """A store at any fsspec URL. Writes go to a temporary name and are moved into place."""

    def __init__(self, url: str, **storage_options: Any) -> None:
        try:
            import fsspec
        except ImportError as exc:  # pragma: no cover - fsspec is a core dependency
            raise ConfigError("fsspec is needed for remote artifact stores") from exc
        self.fs, self.root = fsspec.core.url_to_fs(url, **storage_options)
        self.root = self.root.rstrip("/")

    def _path(self, key: str) -> str:
        return f"{self.root}/{key}"

    def _write_atomic(self, key: str, source: BinaryIO) -> None:
        target = self._path(key)
        tmp = f"{target}.tmp-{os.getpid()}-{os.urandom(4).hex()}"
        self.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        try:
            with self.fs.open(tmp, "wb") as handle:
                while chunk := source.read(CHUNK):
                    handle.write(chunk)
            self.fs.mv(tmp, target)
        except BaseException:
            if self.fs.exists(tmp):
                self.fs.rm_file(tmp)
            raise

    def _read(self, key: str) -> bytes:
        data: bytes = self.fs.cat_file(self._path(key))
        return data

    def _exists(self, key: str) -> bool:
        return bool(self.fs.isfile(self._path(key)))

    def _remove(self, key: str) -> None:
        self.fs.rm_file(self._path(key))

    def _keys(self) -> Iterator[str]:
        base = f"{self.root}/sha256"
        if not self.fs.exists(base):
            return
        for path in self.fs.find(base):
            name = str(path).rsplit("/", 1)[-1]
            if len(name) == 64 and ".tmp-" not in name:
                yield f"sha256/{name[:2]}/{name}"


def open_store(location: str | os.PathLike[str]) -> ArtifactStore:
    """A local folder path or ``file://`` URL gives a ``LocalStore``; any other URL an ``FsspecStore``."""
    text = os.fspath(location)
    if "://" not in text:
        return LocalStore(text)
    if text.startswith("file://"):
        return LocalStore(text.removeprefix("file://"))
    return FsspecStore(text)


__all__ = [
    "ArtifactCorrupted",
    "ArtifactStore",
    "FsspecStore",
    "LocalStore",
    "StoreWriteError",
    "open_store",
    "sha256_file",
]
