"""The artifact store: one abstract suite, run against a local folder and fsspec's memory filesystem."""

from __future__ import annotations

import multiprocessing
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ledgerml.errors import NotFound, TamperDetected
from ledgerml.store import ArtifactCorrupted, ArtifactStore, FsspecStore, LocalStore, open_store
from ledgerml.types import Digest


class StoreSuite:
    def make(self, tmp_path: Path) -> ArtifactStore:
        raise NotImplementedError

    def corrupt(self, store: ArtifactStore, digest: Digest) -> None:
        raise NotImplementedError

    def test_put_get_has_list_delete(self, tmp_path: Path) -> None:
        store = self.make(tmp_path)
        digest = store.put(b"weights")
        assert digest == Digest.sha256(b"weights") and store.has(digest) and store.get(str(digest)) == b"weights"
        assert store.put(b"weights") == digest  # idempotent
        other = store.put(b"other")
        assert store.list() == sorted([digest, other], key=str)
        store.delete(digest)
        assert not store.has(digest) and store.list() == [other]
        with pytest.raises(NotFound):
            store.get(digest)
        with pytest.raises(NotFound):
            store.delete(digest)

    def test_put_file_streams(self, tmp_path: Path) -> None:
        store = self.make(tmp_path)
        big = tmp_path / "big.bin"
        big.write_bytes(bytes(range(256)) * 20000)
        digest = store.put_file(big)
        assert store.get(digest) == big.read_bytes()

    def test_corruption_detected_on_read(self, tmp_path: Path) -> None:
        store = self.make(tmp_path)
        digest = store.put(b"model bytes")
        self.corrupt(store, digest)
        with pytest.raises(ArtifactCorrupted) as info:
            store.get(digest)
        assert isinstance(info.value, TamperDetected) and str(digest) in str(info.value)

    def test_concurrent_puts_of_one_object(self, tmp_path: Path) -> None:
        store = self.make(tmp_path)
        payload = uuid.uuid4().bytes * 50000
        with ThreadPoolExecutor(8) as pool:
            digests = list(pool.map(lambda _: store.put(payload), range(32)))
        assert len(set(digests)) == 1 and store.get(digests[0]) == payload and store.list() == [digests[0]]


class TestLocalStore(StoreSuite):
    def make(self, tmp_path: Path) -> ArtifactStore:
        return LocalStore(tmp_path / "artifacts")

    def corrupt(self, store: ArtifactStore, digest: Digest) -> None:
        assert isinstance(store, LocalStore)
        path = store.path_of(digest)
        path.chmod(0o644)
        path.write_bytes(b"model bytez")

    def test_no_temporary_files_left(self, tmp_path: Path) -> None:
        store = self.make(tmp_path)
        for i in range(20):
            store.put(str(i).encode())
        leftovers = [p for p in (tmp_path / "artifacts").rglob(".tmp-*")]
        assert leftovers == []


class TestMemoryStore(StoreSuite):
    def make(self, tmp_path: Path) -> ArtifactStore:
        return open_store(f"memory://store-{uuid.uuid4().hex}")

    def corrupt(self, store: ArtifactStore, digest: Digest) -> None:
        assert isinstance(store, FsspecStore)
        store.fs.pipe_file(store._path(store._key(digest)), b"model bytez")


def _put_many(root: str, payload: bytes, rounds: int) -> None:
    store = LocalStore(root)
    for _ in range(rounds):
        store.put(payload)


def test_concurrent_puts_from_processes(tmp_path: Path) -> None:
    payload = b"shared update" * 100000
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_put_many, args=(str(tmp_path / "a"), payload, 20)) for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    store = LocalStore(tmp_path / "a")
    assert store.list() == [Digest.sha256(payload)] and store.get(Digest.sha256(payload)) == payload


def test_open_store_dispatch(tmp_path: Path) -> None:
    assert isinstance(open_store(tmp_path), LocalStore)
    assert isinstance(open_store(f"file://{tmp_path}"), LocalStore)
    assert isinstance(open_store("memory://x"), FsspecStore)


def test_a_failed_write_is_one_error_and_leaves_nothing(tmp_path: Path) -> None:
    """A full disk (here: a file size limit, writes fail with EFBIG) is StoreWriteError; no torn or temporary file."""
    import resource

    from ledgerml.errors import StorageError
    from ledgerml.store import StoreWriteError

    store = LocalStore(tmp_path / "store")
    source = tmp_path / "big.bin"
    source.write_bytes(b"y" * 5000)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1000, hard))
    try:
        with pytest.raises(StoreWriteError, match="cannot store artifact sha256:"):
            store.put(b"x" * 5000)
        with pytest.raises(StorageError, match="File too large"):
            store.put_file(source)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert store.list() == [] and [p for p in (tmp_path / "store").rglob("*") if p.is_file()] == []
