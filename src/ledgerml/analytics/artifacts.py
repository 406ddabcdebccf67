"""What every analytics estimator shares on disk and on the ledger: a model is a folder of a few safe files (never
a pickle), read once and size-bounded; its id is the folder's manifest digest; it is registered with its training
data and metrics, and loaded only after that digest is found on the ledger."""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._files import read_bounded
from ..errors import ConfigError, NotFound, StorageError

if TYPE_CHECKING:
    from ..home import Home
    from ..ledger.base import LedgerBackend


@dataclass(frozen=True)
class FolderFormat:
    """The files a saved estimator folder holds (name -> largest accepted size) and how errors name it."""

    files: Mapping[str, int]
    kind: str
    """How the folder is named where it is not one, e.g. "a fraud model"."""
    saved: str
    """What a folder lacking a file is not, e.g. "fraud detector"."""
    saved_short: str
    """What a folder with a stray file is not, e.g. "detector"."""
    needs: str
    """The files, as a missing-file error lists them."""
    made_by: str
    """The command that writes such a folder, e.g. "fraud train"."""


def is_number(value: Any) -> bool:
    """A finite int or float that is not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _read_bounded(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; ``ConfigError`` otherwise."""
    if path.is_symlink():
        raise ConfigError(f"{path} is not a regular file")
    return read_bounded(path, limit)


def read_folder(folder: str | os.PathLike[str], fmt: FolderFormat) -> dict[str, bytes]:
    """The bytes of a saved folder's files, read once (size-bounded); the folder must hold exactly them."""
    target = Path(folder)
    if not target.exists():
        raise NotFound(f"{target} does not exist")
    if not target.is_dir() or target.is_symlink():
        raise ConfigError(f"{target} is not a folder: {fmt.kind} is a folder written by '{fmt.made_by}'")
    present = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if not p.is_dir())
    if any(name not in present for name in fmt.files):
        raise NotFound(f"{target} is not a saved {fmt.saved} (needs {fmt.needs})")
    extra = [name for name in present if name not in fmt.files]
    if extra:
        raise ConfigError(f"{target} holds files a saved {fmt.saved_short} does not have: {extra[:3]}")
    return {name: _read_bounded(target / name, limit) for name, limit in fmt.files.items()}


def write_folder(folder: str | os.PathLike[str], files: Mapping[str, str]) -> Path:
    """Create ``folder`` (if needed) and write each text file into it."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (target / name).write_text(text)
    return target


def folder_digest(files: Mapping[str, bytes]) -> str:
    """The model id of a folder with these files: its manifest digest, as ``model register`` computes it."""
    from ..provenance.manifest import FileEntry, Manifest
    from ..types import Digest

    entries = tuple(FileEntry(name, Digest.sha256(data).hex, len(data)) for name, data in sorted(files.items()))
    return str(Manifest(entries).digest)


def require_registered(ledger: LedgerBackend, folder: Path, files: Mapping[str, bytes], made_by: str) -> str:
    """The folder's model id; ``NotFound`` unless that id is a model registered on ``ledger``."""
    from ..vocab.core import model as registered_model

    model_id = folder_digest(files)
    if registered_model(ledger.state(), model_id) is None:
        raise NotFound(
            f"{folder} ({model_id}) is not a model registered on this ledger: changed since '{made_by}', "
            "or never registered; --unregistered uses it anyway"
        )
    return model_id


def read_registered_folder(
    folder: Path, fmt: FolderFormat, home: Home, *, unregistered: bool = False
) -> dict[str, bytes]:
    """A saved folder's files, checked against the home's ledger unless ``unregistered``."""
    files = read_folder(folder, fmt)
    if not unregistered:
        ledger = home.open_ledger(as_validator=False)
        try:
            require_registered(ledger, folder, files, fmt.made_by)
        finally:
            ledger.close()
    return files


def check_params(defaults: Mapping[str, Any], params: Any, where: str, owner: str) -> dict[str, Any]:
    """Saved hyperparameters: an object of known names whose values have the defaults' types."""
    if not isinstance(params, dict) or not set(params) <= set(defaults):
        raise ConfigError(f"{where}: 'params' must be an object of {owner} parameters")
    for key, value in params.items():
        expected = type(defaults[key])
        ok = isinstance(value, expected) if expected is not float else is_number(value)
        if not ok or (expected is int and isinstance(value, bool)):
            raise ConfigError(f"{where}: parameter {key!r} must be of type {expected.__name__}")
    return dict(params)


def check_model_out(model_out: Path) -> None:
    """Refuse a ``--model-out`` that is a file, a non-empty folder, or inside a missing folder, before any work."""
    if model_out.exists() and not model_out.is_dir():
        raise StorageError(f"--model-out {model_out} is a file; name a folder to create")
    if model_out.exists() and any(model_out.iterdir()):
        raise ConfigError(f"{model_out} exists and is not empty")
    if not model_out.parent.is_dir():
        raise StorageError(f"--model-out {model_out}: the folder {model_out.parent} does not exist")


def check_can_register(home: Home, acting: str | None, data: Path, command: str) -> None:
    """Before any long work: the identity loads and holds the roles registering needs (``trainer`` or
    ``aggregator`` for the model; ``data_owner`` too while the data is not registered); ``Unauthorized`` names
    the missing role and the command that grants it."""
    from ..errors import Unauthorized
    from ..provenance.manifest import build_manifest
    from ..types import Role
    from ..vocab.core import dataset, roles_of

    identity = home.identity(acting)
    with home.open_ledger(as_validator=False) as ledger:
        state = ledger.state()
        held = roles_of(state, identity.address)
        data_known = dataset(state, str(build_manifest(data).digest)) is not None
    wanted = [] if data_known else [Role.DATA_OWNER]
    if not held & {Role.TRAINER, Role.AGGREGATOR}:
        wanted.append(Role.TRAINER)
    missing = [role.value for role in wanted if role not in held]
    if missing:
        grants = " && ".join(f"ledgerml role grant {role} {identity.name}" for role in missing)
        raise Unauthorized(
            f"'{command}' registers the {'data and the ' if not data_known else ''}model signed by "
            f"{identity.name!r}, who lacks the role {' and '.join(missing)}: {grants} (or --no-register)"
        )


def save_and_register(
    save: Callable[[str | None], None],
    folder: Path,
    *,
    data: Path,
    metrics: Mapping[str, Any],
    name: str,
    home: Home | None,
    acting: str | None = None,
) -> str | None:
    """``save(data_id)`` writes the folder; with a ``home``, ``data`` is registered first (if new) and the
    folder after it with ``metrics``, signed by ``acting``, and a block is cut where this process may. Returns
    the model id (None without a home). A folder this call created is removed if anything fails."""
    created = not folder.exists()
    try:
        if home is None:
            save(None)
            return None
        return _register_on(home, acting, save, folder, data, metrics, name)
    except BaseException:
        if created:
            shutil.rmtree(folder, ignore_errors=True)  # nothing half-written is left behind
        raise


def _register_on(
    home: Home,
    acting: str | None,
    save: Callable[[str | None], None],
    folder: Path,
    data: Path,
    metrics: Mapping[str, Any],
    name: str,
) -> str:
    """Register ``data`` (if new), save the folder, register it; seal when holding the validator key."""
    from ..provenance.registry import ensure_dataset_registered, register_trained_model

    identity = home.identity(acting)
    ledger = home.open_ledger()
    try:
        store = home.store()
        data_id = ensure_dataset_registered(ledger, store, identity, data, license="see the data's source")
        save(data_id)
        model_id = register_trained_model(
            ledger, store, identity, folder, datasets=[data_id], metrics=metrics, name=name
        ).id
        if ledger.validator is not None:
            ledger.seal()
        return model_id
    finally:
        ledger.close()
