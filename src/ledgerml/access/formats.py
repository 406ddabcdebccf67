"""The two stored documents of a sealed dataset: its sealed descriptor and the key bundle of each key epoch.

Both are canonical JSON in the artifact store, named by their digest, and the ledger commits to that digest
(``DatasetEncrypted.sealed``, ``DataKeyRotated.keys``), so a changed or swapped document is detected on read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._canonical import canonical_json
from .._json import loads_bounded
from ..types import Digest
from .crypto import HPKE_SUITE, STREAM_SUITE, DecryptionFailed

SEALED_TYPE = "https://ledgerml.dev/sealed-dataset/v1"
KEYS_TYPE = "https://ledgerml.dev/data-keys/v1"
MAX_DOCUMENT_BYTES = 8 << 20


@dataclass(frozen=True)
class SealedFile:
    """One file of a sealed dataset: its plaintext digest and size, and the stored ciphertext's address."""

    path: str
    size: int
    sha256: str
    ciphertext: str


@dataclass(frozen=True)
class SealedDataset:
    """What a sealed dataset version is: which series and epoch, how it was sealed, and its files."""

    dataset_id: str
    series: str
    epoch: int
    chunk_size: int
    seal_id: str
    files: tuple[SealedFile, ...]

    def to_bytes(self) -> bytes:
        """The canonical JSON stored in the artifact store."""
        return canonical_json(
            {
                "_type": SEALED_TYPE,
                "aead": STREAM_SUITE,
                "chunk_size": self.chunk_size,
                "dataset_id": self.dataset_id,
                "epoch": self.epoch,
                "files": [
                    {"ciphertext": f.ciphertext, "path": f.path, "sha256": f.sha256, "size": f.size} for f in self.files
                ],
                "seal_id": self.seal_id,
                "series": self.series,
            }
        )

    @property
    def digest(self) -> str:
        """Its address in the store."""
        return str(Digest.sha256(self.to_bytes()))

    @classmethod
    def from_bytes(cls, raw: bytes) -> SealedDataset:
        """Parse a stored descriptor; ``DecryptionFailed`` if it is not one."""
        data = _document(raw, SEALED_TYPE, "sealed descriptor")
        try:
            files = tuple(
                SealedFile(str(f["path"]), int(f["size"]), str(f["sha256"]), str(f["ciphertext"]))
                for f in data["files"]
            )
            return cls(
                str(data["dataset_id"]),
                str(data["series"]),
                int(data["epoch"]),
                int(data["chunk_size"]),
                str(data["seal_id"]),
                files,
            )
        except (KeyError, TypeError, ValueError):
            raise DecryptionFailed("the sealed descriptor is malformed") from None


@dataclass(frozen=True)
class KeyBundle:
    """One key epoch: the data key wrapped for each reader, and the previous epoch's key chained under it."""

    series: str
    epoch: int
    wrapped: dict[str, str]
    previous: str | None

    def to_bytes(self) -> bytes:
        """The canonical JSON stored in the artifact store."""
        return canonical_json(
            {
                "_type": KEYS_TYPE,
                "epoch": self.epoch,
                "previous": self.previous,
                "series": self.series,
                "suite": HPKE_SUITE,
                "wrapped": dict(sorted(self.wrapped.items())),
            }
        )

    @property
    def digest(self) -> str:
        """Its address in the store."""
        return str(Digest.sha256(self.to_bytes()))

    @classmethod
    def from_bytes(cls, raw: bytes) -> KeyBundle:
        """Parse a stored key bundle; ``DecryptionFailed`` if it is not one."""
        data = _document(raw, KEYS_TYPE, "key bundle")
        try:
            wrapped = {str(k): str(v) for k, v in dict(data["wrapped"]).items()}
            previous = data["previous"]
            return cls(str(data["series"]), int(data["epoch"]), wrapped, None if previous is None else str(previous))
        except (KeyError, TypeError, ValueError):
            raise DecryptionFailed("the key bundle is malformed") from None


def _document(raw: bytes, kind: str, what: str) -> dict[str, Any]:
    data = loads_bounded(raw, what=what, max_bytes=MAX_DOCUMENT_BYTES, max_depth=8, error=DecryptionFailed)
    if not isinstance(data, dict) or data.get("_type") != kind:
        raise DecryptionFailed(f"the stored {what} is not a {kind} document")
    return data


__all__ = ["KEYS_TYPE", "SEALED_TYPE", "KeyBundle", "SealedDataset", "SealedFile"]
