"""Sealing a dataset: fingerprint the plaintext, encrypt every file into the store, register it in one batch.

Order of work: fingerprint (the manifest commits to the plaintext digests, so record proofs keep working), dry-run
the whole batch with stand-in digests (a rejection encrypts and stores nothing), encrypt file by file into the
store (content-addressed ciphertext, bounded memory), then append ``DatasetRegistered``, ``DataKeyRotated``
(epoch 0, a new series only) and ``DatasetEncrypted`` all or none, preceded by the owner's
``EncryptionKeyRegistered`` when the ledger does not have its key yet.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..errors import ConfigError, UnknownReference
from ..events import Payload, build_payload, now_ms
from ..identity import Identity
from ..ledger.base import LedgerBackend, Receipt
from ..provenance.manifest import FileEntry, Manifest, files_of, record_summary
from ..state import State
from ..store import ArtifactStore
from ..vocab.access import DataKeyRotated, DatasetEncrypted, sealed, series
from ..vocab.core import DatasetRegistered
from ._ledger import PLACEHOLDER, append_all, dry_run, require_embedded
from .blobs import Sink, put_stream
from .crypto import DEFAULT_CHUNK, encrypt_stream, new_data_key, wrap_info, wrap_key
from .formats import KeyBundle, SealedDataset, SealedFile
from .keys import current_key, key_payload, needs_key_registration

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class SealResult:
    """A sealed dataset version: its id, the key series and epoch it is sealed under, and the events."""

    dataset_id: str
    series: str
    epoch: int
    sealed: str
    manifest: Manifest
    receipts: tuple[Receipt, ...]


def file_context(seal_id: str, path: str) -> bytes:
    """What a file's stream key is bound to: the sealing's random id and the file's path in the dataset."""
    return seal_id.encode() + b"\x00" + path.encode()


def encrypt_files(
    store: ArtifactStore,
    root: Path,
    seal_id: str,
    key: bytes,
    *,
    chunk_size: int = DEFAULT_CHUNK,
    progress: Progress | None = None,
) -> tuple[SealedFile, ...]:
    """Encrypt every file of ``root`` into ``store`` in one pass, hashing the plaintext on the way."""
    found = files_of(root)
    total, done = sum(path.stat().st_size for _, path in found), 0

    def tick(count: int) -> None:
        nonlocal done
        done += count
        if progress is not None:
            progress(done, total)

    sealed_files = []
    for relative, source in found:
        context = file_context(seal_id, relative)
        try:
            handle = open(source, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise ConfigError(f"cannot read {source}: {exc.strerror or exc}") from None
        with handle:

            def produce(sink: Sink, handle: BinaryIO = handle, context: bytes = context) -> tuple[str | None, int]:
                digest = encrypt_stream(key, context, handle, sink, chunk_size=chunk_size, progress=tick)
                return digest, handle.tell()

            address, (plain, size) = put_stream(store, produce)
        assert plain is not None
        sealed_files.append(SealedFile(relative, size, plain.removeprefix("sha256:"), address))
    return tuple(sealed_files)


def _manifest(root: Path, files: tuple[SealedFile, ...]) -> Manifest:
    """The plaintext manifest of what was sealed: the digests hashed while encrypting, record roots of tables."""
    paths = dict(files_of(root))
    return Manifest(tuple(FileEntry(f.path, f.sha256, f.size, record_summary(paths[f.path])) for f in files))


def _batch(
    owner: Identity,
    registration: DatasetRegistered,
    series_id: str,
    epoch: int,
    keys: str | None,
    sealed: str,
    register_key: bool,
) -> list[Payload]:
    """The events of one sealing, in order: the owner's key, the registration, epoch 0 of a new series, the sealing."""
    batch: list[Payload] = [key_payload(owner)] if register_key else []
    batch.append(registration)
    if keys is not None:
        batch.append(
            build_payload(
                DataKeyRotated,
                "key epoch",
                dataset_id=series_id,
                epoch=0,
                keys=keys,
                readers=[owner.address],
                reason="sealed",
            )
        )
    batch.append(
        build_payload(
            DatasetEncrypted,
            "sealing",
            dataset_id=registration.dataset_id,
            series=series_id,
            epoch=epoch,
            sealed=sealed,
        )
    )
    return batch


def _registration(
    target: Path, dataset_id: str, manifest: Manifest | None, version_of: str | None, **fields: str | None
) -> DatasetRegistered:
    records = 0 if manifest is None else sum(e.records.count for e in manifest.files if e.records is not None)
    files = 0 if manifest is None else len(manifest.files)
    built = build_payload(
        DatasetRegistered,
        "dataset registration",
        dataset_id=dataset_id,
        name=fields["name"] if fields["name"] is not None else target.resolve().name,
        uri=f"sealed:{dataset_id}",
        license=fields["license"],
        consent_note=fields["consent_note"],
        parents=[] if version_of is None else [version_of],
        metadata={"files": files, "records": records, "sealed": True},
    )
    assert isinstance(built, DatasetRegistered)
    return built


def seal_dataset(
    ledger: LedgerBackend,
    store: ArtifactStore,
    owner: Identity,
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    license: str = "",
    consent_note: str = "",
    version_of: str | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    progress: Progress | None = None,
) -> SealResult:
    """Seal a file or folder as a dataset owned by ``owner`` (a data_owner); with ``version_of`` (a sealed
    dataset's id) it is a new version of that series, sealed under its current key epoch."""
    require_embedded(ledger)
    target, state, time = Path(path), ledger.state(), now_ms()
    files_of(target)  # a missing path or a symbolic link is refused before anything else
    fields = {"name": name, "license": license, "consent_note": consent_note}
    series_id = None if version_of is None else series_of(state, version_of)
    register_key = needs_key_registration(state, owner)
    epoch = 0 if series_id is None else _epoch(state, series_id)
    probe = _registration(target, PLACEHOLDER, None, version_of, **fields)
    dry_run(
        ledger,
        owner,
        _batch(
            owner, probe, series_id or PLACEHOLDER, epoch, None if series_id else PLACEHOLDER, PLACEHOLDER, register_key
        ),
        time,
    )
    key = new_data_key() if series_id is None else current_key(ledger, store, owner, series_id)[1]
    seal_id = os.urandom(16).hex()
    files = encrypt_files(store, target, seal_id, key, chunk_size=chunk_size, progress=progress)
    manifest = _manifest(target, files)
    dataset_id = str(manifest.digest)
    keys = None
    if series_id is None:
        series_id = dataset_id
        wrapped = wrap_key(key, owner.encryption_public_key, wrap_info(ledger.ledger_id, series_id, 0, owner.address))
        keys = str(store.put(KeyBundle(series_id, 0, {owner.address: wrapped.hex()}, None).to_bytes()))
    descriptor = SealedDataset(dataset_id, series_id, epoch, chunk_size, seal_id, files)
    registration = _registration(target, dataset_id, manifest, version_of, **fields)
    batch = _batch(owner, registration, series_id, epoch, keys, descriptor.digest, register_key)
    try:
        dry_run(ledger, owner, batch, now_ms())
    except BaseException:
        _forget(store, [f.ciphertext for f in files] + ([keys] if keys else []))
        raise
    store.put(manifest.to_bytes())
    store.put(descriptor.to_bytes())
    receipts = append_all(ledger, owner, batch, now_ms())
    return SealResult(dataset_id, series_id, epoch, descriptor.digest, manifest, tuple(receipts))


def _forget(store: ArtifactStore, addresses: list[str]) -> None:
    """Remove what a sealing that was refused stored (random salts: no one else stored the same bytes)."""
    for address in addresses:
        if store.has(address):
            store.delete(address)


def series_of(state: State, dataset_id: str) -> str:
    """The key series of a sealed dataset version (the first version's id); ``UnknownReference`` if not sealed."""
    found = sealed(state, dataset_id)
    if found is None:
        raise UnknownReference(f"dataset {dataset_id} is not sealed: give an id 'data encrypt' printed")
    return found.series


def _epoch(state: State, series_id: str) -> int:
    record = series(state, series_id)
    if record is None:
        raise UnknownReference(f"dataset {series_id} is not sealed: it has no data key")
    return record.epoch


__all__ = ["SealResult", "encrypt_files", "file_context", "seal_dataset", "series_of"]
