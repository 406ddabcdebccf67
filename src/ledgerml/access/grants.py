"""Granting, revoking and rotating: the owner wraps the current data key for a grantee, or opens a new key epoch
wrapped for the owner and the remaining grantees (re-wrapping the key only; stored ciphertext is not touched).

Revocation is forward secure by rotation: ``revoke_access`` appends ``AccessRevoked`` and the next epoch's
``DataKeyRotated`` in one batch, so nothing sealed after it is readable with a key the revoked party was given.
It cannot take back what that party read, or the keys of earlier epochs it held.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..events import Payload, build_payload, now_ms
from ..identity import Identity
from ..ledger.base import LedgerBackend, Receipt
from ..state import State
from ..store import ArtifactStore
from ..types import Address, Digest
from ..vocab.access import (
    AccessGranted,
    AccessRevoked,
    DataKeyRotated,
    encryption_key,
    live_readers,
    series,
)
from ._ledger import PLACEHOLDER, append_all, dry_run, require_embedded
from .crypto import chain_key, new_data_key, wrap_info, wrap_key
from .formats import KeyBundle
from .keys import chain_aad, current_key
from .seal import series_of


@dataclass(frozen=True)
class Rotation:
    """A new key epoch: its number, who it was wrapped for, and the events appended."""

    series: str
    epoch: int
    readers: tuple[str, ...]
    receipts: tuple[Receipt, ...]


def resolve_series(state: State, dataset_id: str) -> str:
    """The key series a dataset id names: itself when it is a series, else the series of that sealed version."""
    return dataset_id if series(state, dataset_id) is not None else series_of(state, dataset_id)


def grant_access(
    ledger: LedgerBackend,
    store: ArtifactStore,
    owner: Identity,
    dataset_id: str,
    grantee: Address,
    *,
    purpose: str = "",
    expires: int | None = None,
) -> Receipt:
    """Wrap the current data key for ``grantee``'s registered encryption key and append ``AccessGranted``."""
    require_embedded(ledger)
    state = ledger.state()
    series_id = resolve_series(state, dataset_id)
    record = series(state, series_id)
    assert record is not None
    key_record = encryption_key(state, grantee)
    probe = build_payload(
        AccessGranted,
        "grant",
        dataset_id=series_id,
        grantee=grantee,
        epoch=record.epoch,
        wrapped_key=PLACEHOLDER,
        recipient_key=key_record.public_key if key_record else "00" * 32,
        purpose=purpose,
        expires=expires,
    )
    time = now_ms()
    dry_run(ledger, owner, [probe], time)
    assert key_record is not None  # the dry run refuses a grantee without a registered key
    epoch, key = current_key(ledger, store, owner, series_id)
    info = wrap_info(ledger.ledger_id, series_id, epoch, grantee)
    wrapped = wrap_key(key, bytes.fromhex(key_record.public_key), info)
    granted = probe.model_copy(update={"wrapped_key": str(Digest.sha256(wrapped))})
    dry_run(ledger, owner, [granted], time)
    store.put(wrapped)
    return append_all(ledger, owner, [granted], time)[0]


def _next_epoch(
    ledger: LedgerBackend,
    store: ArtifactStore,
    owner: Identity,
    series_id: str,
    before: list[Payload],
    reason: str,
) -> Rotation:
    """Append ``before`` and a rotation to a new epoch wrapped for the readers left after ``before``, in one batch."""
    time = now_ms()
    record = series(ledger.state(), series_id)
    assert record is not None
    after = dry_run(ledger, owner, before, time) if before else ledger.state()
    readers = live_readers(after, series_id, owner.address, time)
    new_epoch = record.epoch + 1
    probe = build_payload(
        DataKeyRotated,
        "key rotation",
        dataset_id=series_id,
        epoch=new_epoch,
        keys=PLACEHOLDER,
        readers=readers,
        reason=reason,
    )
    dry_run(ledger, owner, [*before, probe], time)
    _, old_key = current_key(ledger, store, owner, series_id)
    key = new_data_key()
    wrapped = {}
    for reader in readers:
        found = encryption_key(after, reader)
        assert found is not None  # the dry run refuses readers without a key
        info = wrap_info(ledger.ledger_id, series_id, new_epoch, reader)
        wrapped[reader] = wrap_key(key, bytes.fromhex(found.public_key), info).hex()
    link = chain_key(key, old_key, chain_aad(series_id, new_epoch)).hex()
    keys = str(store.put(KeyBundle(series_id, new_epoch, wrapped, link).to_bytes()))
    rotated = probe.model_copy(update={"keys": keys})
    receipts = append_all(ledger, owner, [*before, rotated], time)
    return Rotation(series_id, new_epoch, tuple(readers), tuple(receipts))


def revoke_access(
    ledger: LedgerBackend,
    store: ArtifactStore,
    owner: Identity,
    dataset_id: str,
    grantee: Address,
    *,
    reason: str = "",
) -> Rotation:
    """Revoke ``grantee``'s grant and rotate the data key to a new epoch without it, all or nothing."""
    require_embedded(ledger)
    series_id = resolve_series(ledger.state(), dataset_id)
    revoked = build_payload(AccessRevoked, "revocation", dataset_id=series_id, grantee=grantee, reason=reason)
    return _next_epoch(ledger, store, owner, series_id, [revoked], reason or f"revoked {grantee}")


def rotate_key(
    ledger: LedgerBackend, store: ArtifactStore, owner: Identity, dataset_id: str, *, reason: str = "rotation"
) -> Rotation:
    """Open a new key epoch for the owner and the live grantees (expired grants are left out)."""
    require_embedded(ledger)
    series_id = resolve_series(ledger.state(), dataset_id)
    return _next_epoch(ledger, store, owner, series_id, [], reason)


__all__ = ["Rotation", "grant_access", "resolve_series", "revoke_access", "rotate_key"]
