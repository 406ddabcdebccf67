"""Opening a sealed dataset: check the grant, release the data key, decrypt and check every byte, log the use.

Order of work: the ledger must accept the reader's ``AccessUsed`` (dry run: owner or live grant, else
``NoGrant`` / ``GrantRevoked`` / ``GrantExpired``); the reader's wrapped key is opened and walked back to the
version's epoch; every file is decrypted into a temporary file beside the output, each chunk authenticated and
the plaintext digest compared with the manifest; the ciphertext's own address is checked; then ``AccessUsed`` is
appended and only then is the output renamed into place. Any failure leaves no output and no event.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import AlreadyExists, NotFound, StorageError, TamperDetected
from ..events import build_payload, now_ms
from ..identity import Identity
from ..ledger.base import LedgerBackend, Receipt
from ..provenance.manifest import Manifest
from ..store import ArtifactStore
from ..vocab.access import AccessUsed, sealed
from ..vocab.core import dataset
from ._ledger import append_all, dry_run, require_embedded
from .blobs import open_blob
from .crypto import decrypt_chunks, same_digest
from .formats import SealedDataset, SealedFile
from .keys import current_key, key_at
from .seal import file_context


@dataclass(frozen=True)
class Opened:
    """A decrypted dataset version: where it was written, the epoch whose key was released, the logged use."""

    dataset_id: str
    epoch: int
    out: Path
    files: int
    bytes: int
    receipt: Receipt


def _descriptor(ledger: LedgerBackend, store: ArtifactStore, dataset_id: str) -> tuple[SealedDataset, Manifest]:
    state = ledger.state()
    sealing = sealed(state, dataset_id)
    if sealing is None:
        found = "registered but not sealed" if dataset(state, dataset_id) is not None else "not registered"
        raise NotFound(f"dataset {dataset_id} is {found}: nothing to decrypt")
    descriptor = SealedDataset.from_bytes(store.get(sealing.sealed))
    if (descriptor.dataset_id, descriptor.series, descriptor.epoch) != (dataset_id, sealing.series, sealing.epoch):
        raise TamperDetected(f"the sealed descriptor stored for {dataset_id} describes another dataset or epoch")
    from .._json import loads_bounded

    manifest = Manifest.from_dict(loads_bounded(store.get(dataset_id), what="manifest", max_bytes=64 << 20))
    plain = {(e.path, e.sha256, e.size) for e in manifest.files}
    if plain != {(f.path, f.sha256, f.size) for f in descriptor.files}:
        raise TamperDetected(f"the sealed descriptor of {dataset_id} disagrees with its registered manifest")
    return descriptor, manifest


def _decrypt_file(store: ArtifactStore, key: bytes, seal_id: str, entry: SealedFile, target: Path) -> int:
    digest, written = hashlib.sha256(), 0
    with open_blob(store, entry.ciphertext) as source, open(target, "wb") as out:
        for chunk in decrypt_chunks(key, file_context(seal_id, entry.path), source, what=entry.path):
            digest.update(chunk)
            out.write(chunk)
            written += len(chunk)
        source.check()
        out.flush()
        os.fsync(out.fileno())
    if not same_digest("sha256:" + digest.hexdigest(), "sha256:" + entry.sha256) or written != entry.size:
        raise TamperDetected(f"{entry.path}: the decrypted bytes do not match the registered plaintext digest")
    return written


def _check_out(out: Path, single: bool) -> None:
    if out.exists() and not (single and out.is_file()):
        raise AlreadyExists(f"--out {out} exists already and is a folder" if single else f"--out {out} exists already")
    if not out.parent.is_dir():
        raise StorageError(f"--out {out}: the folder {out.parent} does not exist")


def decrypt_dataset(
    ledger: LedgerBackend,
    store: ArtifactStore,
    reader: Identity,
    dataset_id: str,
    out: str | os.PathLike[str],
    *,
    purpose: str = "",
) -> Opened:
    """Decrypt a sealed dataset version as ``reader`` into ``out`` (a file for one file, else a new folder)."""
    require_embedded(ledger)
    descriptor, _ = _descriptor(ledger, store, dataset_id)
    target, single = (
        Path(out),
        len(descriptor.files) == 1 and descriptor.files[0].path == Path(descriptor.files[0].path).name,
    )
    _check_out(target, single)
    used = build_payload(AccessUsed, "access log", dataset_id=dataset_id, epoch=descriptor.epoch, purpose=purpose)
    dry_run(ledger, reader, [used])
    epoch, key = current_key(ledger, store, reader, descriptor.series)
    key = key_at(store, ledger.state(), descriptor.series, epoch, key, descriptor.epoch)
    scratch = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
    try:
        total = 0
        for entry in descriptor.files:
            path = scratch / entry.path
            path.parent.mkdir(parents=True, exist_ok=True)
            total += _decrypt_file(store, key, descriptor.seal_id, entry, path)
        receipt = append_all(ledger, reader, [used], now_ms())[0]
        os.replace(scratch / descriptor.files[0].path, target) if single else os.replace(scratch, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return Opened(dataset_id, descriptor.epoch, target, len(descriptor.files), total, receipt)


__all__ = ["Opened", "decrypt_dataset"]
