"""Encryption keys on the ledger, and finding a reader's data key for an epoch: its wrapped copy (checked against
the digest the ledger holds), opened with the reader's X25519 key, then walked back along the key chain."""

from __future__ import annotations

from ..errors import NotFound, TamperDetected, UnknownReference
from ..events import build_payload
from ..identity import Identity
from ..ledger.base import LedgerBackend, Receipt
from ..state import State
from ..store import ArtifactStore
from ..vocab.access import EncryptionKeyRegistered, encryption_key, epoch_record, grant, series
from ._ledger import require_embedded
from .crypto import WrongKey, unchain_key, unwrap_key, wrap_info
from .formats import KeyBundle


def key_payload(identity: Identity) -> EncryptionKeyRegistered:
    """The registration of ``identity``'s encryption key."""
    public = identity.encryption_public_key.hex()
    built = build_payload(EncryptionKeyRegistered, "encryption key registration", public_key=public, suite="X25519")
    assert isinstance(built, EncryptionKeyRegistered)
    return built


def register_encryption_key(ledger: LedgerBackend, identity: Identity) -> Receipt | None:
    """Register ``identity``'s X25519 public key on the ledger (signed by it); None if it is registered already."""
    require_embedded(ledger)
    current = encryption_key(ledger.state(), identity.address)
    if current is not None and current.public_key == identity.encryption_public_key.hex():
        return None
    return ledger.submit(identity, key_payload(identity))


def needs_key_registration(state: State, identity: Identity) -> bool:
    """True unless ``identity``'s current encryption key is the one registered on the ledger."""
    current = encryption_key(state, identity.address)
    return current is None or current.public_key != identity.encryption_public_key.hex()


def bundle(store: ArtifactStore, state: State, series_id: str, epoch: int) -> KeyBundle:
    """The stored key bundle of one epoch, checked against the digest the ledger holds for it."""
    record = epoch_record(state, series_id, epoch)
    if record is None:
        raise UnknownReference(f"dataset {series_id} has no key epoch {epoch}")
    found = KeyBundle.from_bytes(store.get(record.keys))
    if found.series != series_id or found.epoch != epoch:
        raise TamperDetected(f"the key bundle stored for epoch {epoch} of {series_id} is another epoch's")
    return found


def _wrapped_for(store: ArtifactStore, state: State, series_id: str, epoch: int, reader: Identity) -> bytes:
    """The wrapped data key of ``epoch`` for ``reader``: from the epoch's bundle, or from its grant in that epoch."""
    record = epoch_record(state, series_id, epoch)
    if record is not None and reader.address in record.readers:
        wrapped = bundle(store, state, series_id, epoch).wrapped.get(reader.address)
        if wrapped is None:
            raise TamperDetected(f"the key bundle of epoch {epoch} lacks the key of {reader.address} it names")
        try:
            return bytes.fromhex(wrapped)
        except ValueError:
            raise TamperDetected(f"the key bundle of epoch {epoch} holds a malformed wrapped key") from None
    found = grant(state, series_id, reader.address)
    if found is None or found.epoch != epoch:
        raise NotFound(f"no data key of epoch {epoch} of {series_id} was wrapped for {reader.address}")
    return store.get(found.wrapped_key)


def current_key(ledger: LedgerBackend, store: ArtifactStore, reader: Identity, series_id: str) -> tuple[int, bytes]:
    """The current epoch of a series and its data key, opened by ``reader`` (the owner or a grantee)."""
    state = ledger.state()
    record = series(state, series_id)
    if record is None:
        raise UnknownReference(f"dataset {series_id} is not sealed: it has no data key")
    registered = encryption_key(state, reader.address)
    if registered is None or registered.public_key != reader.encryption_public_key.hex():
        raise WrongKey(
            f"identity {reader.name!r}'s encryption key is not the one registered for {reader.address} on this ledger"
        )
    wrapped = _wrapped_for(store, state, series_id, record.epoch, reader)
    info = wrap_info(ledger.ledger_id, series_id, record.epoch, reader.address)
    return record.epoch, unwrap_key(wrapped, reader.encryption_private_key, info)


def chain_aad(series_id: str, epoch: int) -> bytes:
    """The associated data of the key chain link from ``epoch`` to ``epoch - 1``."""
    return b"ledgerml/key-chain\x00%s\x00%d" % (series_id.encode(), epoch)


def key_at(store: ArtifactStore, state: State, series_id: str, epoch: int, key: bytes, wanted: int) -> bytes:
    """Walk the key chain from ``epoch``'s ``key`` back to epoch ``wanted``'s key."""
    while epoch > wanted:
        link = bundle(store, state, series_id, epoch).previous
        if link is None:
            raise TamperDetected(f"the key bundle of epoch {epoch} of {series_id} has no link to the epoch before")
        try:
            chained = bytes.fromhex(link)
        except ValueError:
            raise TamperDetected(f"the key bundle of epoch {epoch} holds a malformed key chain") from None
        key, epoch = unchain_key(key, chained, chain_aad(series_id, epoch)), epoch - 1
    return key


__all__ = [
    "bundle",
    "chain_aad",
    "current_key",
    "key_at",
    "key_payload",
    "needs_key_registration",
    "register_encryption_key",
]
