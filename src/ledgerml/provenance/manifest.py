"""Manifests: a file or folder as sorted (relative POSIX path, sha256) entries, plus record roots for tables.

Like OpenSSF model-signing, the thing that is signed and registered is the manifest, not the bytes: a
dataset's id is the SHA-256 of its canonical manifest. Tabular files also carry a record-level Merkle root
(``records``), so one row can later be proven part of the registered dataset without the rest of the data.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._canonical import canonical_json
from ..errors import ConfigError, NotFound
from ..store import sha256_file
from ..types import Digest
from .records import LEAF_ENCODING, merkle_root, table_leaves, tabular_format

MANIFEST_TYPE = "https://ledgerml.dev/manifest/v1"


@dataclass(frozen=True)
class RecordSummary:
    """The record-level fingerprint of one tabular file."""

    format: str
    columns: tuple[str, ...]
    count: int
    root: str  # hex

    def to_dict(self) -> dict[str, Any]:
        """JSON data."""
        return {
            "format": self.format,
            "columns": list(self.columns),
            "count": self.count,
            "root": self.root,
            "leaf_encoding": LEAF_ENCODING,
        }


@dataclass(frozen=True)
class FileEntry:
    """One file of a manifest."""

    path: str
    sha256: str
    size: int
    records: RecordSummary | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON data."""
        data: dict[str, Any] = {"path": self.path, "digest": {"sha256": self.sha256}, "size": self.size}
        if self.records is not None:
            data["records"] = self.records.to_dict()
        return data


@dataclass(frozen=True)
class Manifest:
    """A fingerprint of a file or folder."""

    files: tuple[FileEntry, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON data (what is hashed)."""
        return {"_type": MANIFEST_TYPE, "files": [entry.to_dict() for entry in self.files]}

    def to_bytes(self) -> bytes:
        """The canonical encoding."""
        return canonical_json(self.to_dict())

    @property
    def digest(self) -> Digest:
        """SHA-256 of the canonical manifest: a dataset's (or model folder's) id."""
        return Digest.sha256(self.to_bytes())

    def entry(self, path: str) -> FileEntry:
        """The entry for ``path``."""
        for entry in self.files:
            if entry.path == path:
                return entry
        raise NotFound(f"{path!r} is not in the manifest (files: {[e.path for e in self.files][:10]})")

    @classmethod
    def from_dict(cls, data: Any) -> Manifest:
        """Parse :meth:`to_dict` output; ``ConfigError`` when malformed."""
        try:
            if data["_type"] != MANIFEST_TYPE:
                raise ConfigError(f"not a ledgerml manifest: {data.get('_type')!r}")
            files = []
            for item in data["files"]:
                records = item.get("records")
                summary = None
                if records is not None:
                    if records.get("leaf_encoding") != LEAF_ENCODING:
                        raise ConfigError(f"unknown record leaf encoding {records.get('leaf_encoding')!r}")
                    summary = RecordSummary(
                        str(records["format"]), tuple(records["columns"]), int(records["count"]), str(records["root"])
                    )
                files.append(FileEntry(str(item["path"]), str(item["digest"]["sha256"]), int(item["size"]), summary))
            return cls(tuple(files))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(f"malformed manifest: {exc!r}") from None


def files_of(root: Path) -> list[tuple[str, Path]]:
    """The regular files a manifest of ``root`` lists, as sorted (relative POSIX path, path); symlinks refused."""
    return _files_of(root)


def record_summary(file: Path, workers: int | None = None) -> RecordSummary | None:
    """The record-level fingerprint of a tabular file (CSV/TSV/Parquet), None for any other file."""
    fmt = tabular_format(file)
    if fmt is None:
        return None
    columns, leaves = table_leaves(file, fmt, workers)
    return RecordSummary(fmt, tuple(columns), len(leaves), merkle_root(leaves).hex())


def _files_of(root: Path) -> list[tuple[str, Path]]:
    if root.is_symlink():
        raise ConfigError(f"{root} is a symbolic link; fingerprint its target instead")
    if root.is_file():
        return [(root.name, root)]
    if not root.is_dir():
        raise NotFound(f"{root} does not exist")
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            raise ConfigError(f"{path} is a symbolic link; manifests hold regular files only")
        if path.is_file():
            found.append((path.relative_to(root).as_posix(), path))
    if not found:
        raise ConfigError(f"{root} holds no files")
    return sorted(found)


Progress = Callable[[int, int], None]
"""``progress(done, total)``: bytes fingerprinted so far of the total (each tabular file counts twice: its digest
and its record pass)."""


def _sha256_counting(path: Path, tick: Callable[[int], None]) -> str:
    """SHA-256 hex of a file, streamed in 1 MiB chunks, calling ``tick(bytes)`` after each."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
                tick(len(chunk))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    return digest.hexdigest()


def build_manifest(
    path: str | os.PathLike[str], *, records: bool = True, workers: int | None = None, progress: Progress | None = None
) -> Manifest:
    """Fingerprint a file or folder; tabular files get a record-level root when ``records`` is set."""
    files = _files_of(Path(path))
    formats = {relative: tabular_format(file) if records else None for relative, file in files}
    sizes = {relative: file.stat().st_size for relative, file in files}
    total = sum(sizes.values()) + sum(sizes[r] for r, fmt in formats.items() if fmt is not None)
    done = 0

    def tick(count: int) -> None:
        nonlocal done
        done += count
        if progress is not None:
            progress(done, total)

    entries = []
    for relative, file in files:
        summary = None
        fmt = formats[relative]
        if fmt is not None:
            columns, leaves = table_leaves(file, fmt, workers)
            summary = RecordSummary(fmt, tuple(columns), len(leaves), merkle_root(leaves).hex())
            tick(sizes[relative])
        digest = _sha256_counting(file, tick) if progress is not None else sha256_file(file).hex
        entries.append(FileEntry(relative, digest, sizes[relative], summary))
    return Manifest(tuple(entries))


def artifact_digest(path: str | os.PathLike[str]) -> Digest:
    """A model's id: the file's SHA-256 for a single file, the manifest digest for a folder."""
    target = Path(path)
    if target.is_file() and not target.is_symlink():
        return sha256_file(target)
    return build_manifest(target, records=False).digest
