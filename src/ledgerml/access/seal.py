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
from ..events import Payload, now_ms
from ..identity import Identity
from ..ledger.base import LedgerBackend, Receipt
from ..provenance.manifest import Manifest, build_manifest
from ..state import State
from ..store import ArtifactStore
from ..vocab.access import DataKeyRotated, DatasetEncrypted, sealed, series
from ..vocab.core import DatasetRegistered
from ._ledger import PLACEHOLDER, append_all, dry_run, payload, require_embedded
from .blobs import Sink, put_stream
from .crypto import DEFAULT_CHUNK, encrypt_stream, new_data_key, same_digest, wrap_info, wrap_key
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


def _file_context(dataset_id: str, path: str) -> bytes:
    return dataset_id.encode() + b"\x00" + path.encode()


def encrypt_files(
    store: ArtifactStore,
    root: Path,
    manifest: Manifest,
    dataset_id: str,
    key: bytes,
    *,
    chunk_size: int = DEFAULT_CHUNK,
    progress: Progress | None = None,
) -> tuple[SealedFile, ...]:
    """Encrypt every file of ``manifest`` into ``store``; ``ConfigError`` if a file changed since its fingerprint."""
    total, done = sum(entry.size for entry in manifest.files), 0
    files = []
    for entry in manifest.files:
        source = root if root.is_file() else root / entry.path

        def tick(count: int) -> None:
            nonlocal done
            done += count
            if progress is not None:
                progress(done, total)

        context = _file_context(dataset_id, entry.path)
        with open(source, "rb") as handle:

            def produce(sink: Sink, handle: BinaryIO = handle, context: bytes = context) -> str:
                return encrypt_stream(key, context, handle, sink, chunk_size=chunk_size, progress=tick)

            address, plain = put_stream(store, produce)
        if not same_digest(plain, "sha256:" + entry.sha256):
            raise ConfigError(f"{source} changed while it was being sealed; try again")
        files.append(SealedFile(entry.path, entry.size, entry.sha256, address))
    return tuple(files)


def _batch(
    owner: Identity,
    registration: DatasetRegistered,
    series_id: str,
    epoch: int,
    keys: str | None,
    sealed_digest: str,
    register_key: bool,
) -> list[Payload]:
    batch: list[Payload] = []
    if register_key:
        batch.append(key_payload(owner))  # type: ignore[arg-type]
    batch.append(registration)
    if keys is not None:
        batch.append(
            payload(
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
        payload(
            DatasetEncrypted,
            "sealing",
            dataset_id=registration.dataset_id,
            series=series_id,
            epoch=epoch,
            sealed=sealed_digest,
        )
    )
    return batch


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
    """Fingerprint and seal a file or folder as a dataset owned by ``owner`` (a data_owner); with ``version_of``
    (a sealed dataset's id) it is a new version of that series, sealed under its current key epoch."""
    require_embedded(ledger)
    target = Path(path)
    manifest = build_manifest(target)
    dataset_id = str(manifest.digest)
    records = sum(e.records.count for e in manifest.files if e.records is not None)
    registration = payload(
        DatasetRegistered,
        "dataset registration",
        dataset_id=dataset_id,
        name=name if name is not None else target.resolve().name,
        uri=f"sealed:{dataset_id}",
        license=license,
        consent_note=consent_note,
        parents=[] if version_of is None else [version_of],
        metadata={"files": len(manifest.files), "records": records, "sealed": True},
    )
    assert isinstance(registration, DatasetRegistered)
    state = ledger.state()
    series_id = dataset_id if version_of is None else series_of(state, version_of)
    new_series = version_of is None
    register_key = needs_key_registration(state, owner)
    time = now_ms()
    epoch = 0 if new_series else _epoch(state, series_id)
    plan = _batch(owner, registration, series_id, epoch, PLACEHOLDER if new_series else None, PLACEHOLDER, register_key)
    dry_run(ledger, owner, plan, time)
    if new_series:
        key = new_data_key()
        wrapped = wrap_key(key, owner.encryption_public_key, wrap_info(ledger.ledger_id, series_id, 0, owner.address))
        keys: str | None = str(store.put(KeyBundle(series_id, 0, {owner.address: wrapped.hex()}, None).to_bytes()))
    else:
        epoch, key = current_key(ledger, store, owner, series_id)
        keys = None
    files = encrypt_files(store, target, manifest, dataset_id, key, chunk_size=chunk_size, progress=progress)
    descriptor = SealedDataset(dataset_id, series_id, epoch, chunk_size, files)
    store.put(manifest.to_bytes())
    sealed_digest = str(store.put(descriptor.to_bytes()))
    batch = _batch(owner, registration, series_id, epoch, keys, sealed_digest, register_key)
    receipts = append_all(ledger, owner, batch, now_ms())
    return SealResult(dataset_id, series_id, epoch, sealed_digest, manifest, tuple(receipts))


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


__all__ = ["SealResult", "encrypt_files", "seal_dataset", "series_of"]
