"""The access vocabulary: encryption keys, sealed datasets, grants, revocations, key epochs and the access log.

``EncryptionKeyRegistered`` (any identity, its own X25519 key); ``DataKeyRotated`` (the owner opens a dataset's
key epoch: epoch 0 when it is first sealed, one more after each revocation or ``data rotate``, wrapped for the
owner and the remaining grantees exactly); ``DatasetEncrypted`` (the owner records which epoch a registered
dataset version is sealed under and the digest of its sealed descriptor); ``AccessGranted`` / ``AccessRevoked``
(the owner, per grantee); ``AccessUsed`` (the reader, every time a data key is released). Grants are on a key
series: the first sealed version's id names it, and later versions sealed with ``version_of`` share it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import Field

from ..errors import DuplicateRegistration, InvalidTransition, Unauthorized, UnknownReference
from ..events import AddressField, DigestField, Event, Payload, ShortText, event_kind
from ..state import State, record_type, rule
from ..types import Address
from .core import dataset
from .evm import not_on_chain

PublicKeyHex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Epoch = Annotated[int, Field(ge=0, le=2**31 - 1)]
MAX_READERS = 256
"""Most readers (owner and grantees) one key epoch is wrapped for: keeps a ``DataKeyRotated`` event bounded."""


class NoGrant(Unauthorized):
    """The reader holds no grant for the dataset (and is not its owner)."""

    exit_code = 44


class GrantRevoked(Unauthorized):
    """The reader's grant was revoked; revocation is final for its epoch."""

    exit_code = 45


class GrantExpired(Unauthorized):
    """The reader's grant has expired."""

    exit_code = 46


@event_kind("EncryptionKeyRegistered")
class EncryptionKeyRegistered(Payload):
    """An identity registers its own X25519 public key (any identity may; a later one replaces it)."""

    public_key: PublicKeyHex
    suite: ShortText = "X25519"


@event_kind("DataKeyRotated")
class DataKeyRotated(Payload):
    """The owner opens key epoch ``epoch`` of a dataset; ``keys`` is the digest of the stored key bundle."""

    dataset_id: DigestField
    epoch: Epoch
    keys: DigestField
    readers: list[AddressField] = Field(max_length=MAX_READERS)
    reason: ShortText = ""


@event_kind("DatasetEncrypted")
class DatasetEncrypted(Payload):
    """The owner records that a registered dataset version is sealed under ``series``'s key epoch ``epoch``."""

    dataset_id: DigestField
    series: DigestField
    epoch: Epoch
    sealed: DigestField


@event_kind("AccessGranted")
class AccessGranted(Payload):
    """The owner grants ``grantee`` the data key of the current epoch, wrapped for ``recipient_key``."""

    dataset_id: DigestField
    grantee: AddressField
    epoch: Epoch
    wrapped_key: DigestField
    recipient_key: PublicKeyHex
    purpose: ShortText = ""
    expires: int | None = Field(default=None, ge=0)


@event_kind("AccessRevoked")
class AccessRevoked(Payload):
    """The owner revokes ``grantee``'s grant; the next epoch is wrapped without it."""

    dataset_id: DigestField
    grantee: AddressField
    reason: ShortText = ""


@event_kind("AccessUsed")
class AccessUsed(Payload):
    """A reader records that it was released the data key of ``epoch`` to read ``dataset_id``."""

    dataset_id: DigestField
    epoch: Epoch
    purpose: ShortText = ""


@record_type
@dataclass(frozen=True, slots=True)
class EncryptionKeyRecord:
    """An identity's registered X25519 public key."""

    public_key: str
    suite: str
    registered_by: str
    time: int


@record_type
@dataclass(frozen=True, slots=True)
class SeriesRecord:
    """A key series: its owner and current epoch."""

    series: str
    owner: Address
    epoch: int
    keys: str
    readers: tuple[str, ...]
    rotated_by: str
    time: int


@record_type
@dataclass(frozen=True, slots=True)
class EpochRecord:
    """One key epoch of a series: the key bundle's digest and who it was wrapped for."""

    keys: str
    readers: tuple[str, ...]
    event: str
    time: int


@record_type
@dataclass(frozen=True, slots=True)
class SealedRecord:
    """A sealed dataset version."""

    series: str
    epoch: int
    sealed: str
    event: str
    time: int


@record_type
@dataclass(frozen=True, slots=True)
class GrantRecord:
    """A grant on a series; ``revoked_epoch`` is set once it is revoked."""

    grantee: Address
    epoch: int
    wrapped_key: str
    recipient_key: str
    purpose: str
    expires: int | None
    event: str
    time: int
    revoked_epoch: int | None = None
    revoked_time: int | None = None


# -- read helpers -------------------------------------------------------------------------------------


def encryption_key(state: State, address: str) -> EncryptionKeyRecord | None:
    """The registered encryption key of ``address``, if any."""
    found: EncryptionKeyRecord | None = state.get("encryption_keys", address)
    return found


def series(state: State, series_id: str) -> SeriesRecord | None:
    """The key series ``series_id``, if any."""
    found: SeriesRecord | None = state.get("access_series", series_id)
    return found


def epoch_record(state: State, series_id: str, epoch: int) -> EpochRecord | None:
    """Key epoch ``epoch`` of a series, if any."""
    found: EpochRecord | None = state.get("access_epochs", f"{series_id}#{epoch}")
    return found


def sealed(state: State, dataset_id: str) -> SealedRecord | None:
    """The sealing of dataset version ``dataset_id``, if it is sealed."""
    found: SealedRecord | None = state.get("sealed_datasets", dataset_id)
    return found


def grant(state: State, series_id: str, grantee: str) -> GrantRecord | None:
    """The latest grant of ``series_id`` to ``grantee``, if any (revoked or not)."""
    found: GrantRecord | None = state.get("access_grants", f"{series_id}|{grantee}")
    return found


def grants(state: State, series_id: str) -> list[GrantRecord]:
    """Every grant of a series (latest per grantee), sorted by grantee."""
    prefix = f"{series_id}|"
    return [g for key, g in sorted(state.rows("access_grants").items()) if key.startswith(prefix)]


def is_active(record: GrantRecord, time: int) -> bool:
    """True if a grant is neither revoked nor expired at ``time`` (ms)."""
    return record.revoked_epoch is None and (record.expires is None or time < record.expires)


def check_access(state: State, series_id: str, reader: str, time: int) -> None:
    """Raise ``NoGrant``, ``GrantRevoked`` or ``GrantExpired`` unless ``reader`` owns the series or has a live grant."""
    record = series(state, series_id)
    if record is None:
        raise UnknownReference(f"dataset {series_id} is not sealed: it has no data key")
    if record.owner == reader:
        return
    found = grant(state, series_id, reader)
    if found is None:
        raise NoGrant(f"{reader} holds no grant for dataset {series_id}")
    if found.revoked_epoch is not None:
        raise GrantRevoked(
            f"{reader}'s grant for dataset {series_id} was revoked in epoch {found.revoked_epoch}; "
            f"the data key is now epoch {record.epoch}, which it was not given"
        )
    if found.expires is not None and time >= found.expires:
        raise GrantExpired(f"{reader}'s grant for dataset {series_id} expired at {found.expires} (ms)")


def may_use(state: State, dataset_id: str, participant: str, time: int) -> bool:
    """True if ``participant`` may train on ``dataset_id`` at ``time``: it owns it, or the dataset is sealed and the
    participant holds a live grant on its series. (For federations: checked at join and at each round.)"""
    found = dataset(state, dataset_id)
    if found is None:
        return False
    if found.owner == participant:
        return True
    sealing = sealed(state, dataset_id)
    if sealing is None:
        return False
    try:
        check_access(state, sealing.series, participant, time)
    except Unauthorized:
        return False
    return True


def needs_rotation(state: State, series_id: str) -> bool:
    """True if a grant was revoked in the series' current epoch (its key must not seal anything new)."""
    record = series(state, series_id)
    return record is not None and any(g.revoked_epoch == record.epoch for g in grants(state, series_id))


def live_readers(state: State, series_id: str, owner: str, time: int) -> list[str]:
    """Who a new epoch must be wrapped for: the owner and every grantee whose grant is live at ``time``."""
    live = {g.grantee for g in grants(state, series_id) if is_active(g, time)}
    return sorted({owner, *live})


# -- rules -------------------------------------------------------------------------------------------


@rule(EncryptionKeyRegistered)
def _key_registered(state: State, event: Event, payload: EncryptionKeyRegistered) -> None:
    if payload.suite != "X25519":
        raise InvalidTransition(f"encryption key suite {payload.suite!r} is not supported (only X25519)")
    current = encryption_key(state, event.actor)
    if current is not None and current.public_key == payload.public_key:
        raise DuplicateRegistration(f"{event.actor} has registered this encryption key already")
    state.put(
        "encryption_keys", event.actor, EncryptionKeyRecord(payload.public_key, payload.suite, event.id, event.time)
    )


def _require_owner(state: State, series_id: str, actor: str, act: str) -> SeriesRecord:
    record = series(state, series_id)
    if record is None:
        raise UnknownReference(f"dataset {series_id} is not sealed: it has no data key")
    if record.owner != actor:
        raise Unauthorized(f"only the owner of dataset {series_id} ({record.owner}) {act}")
    return record


def _check_readers(state: State, readers: list[str], wanted: list[str]) -> None:
    if readers != wanted:
        extra, missing = sorted(set(readers) - set(wanted)), sorted(set(wanted) - set(readers))
        raise InvalidTransition(
            "a new key epoch must be wrapped for the owner and the live grantees exactly, in address order "
            f"(not for {extra}, missing {missing})"
        )
    for reader in readers:
        if encryption_key(state, reader) is None:
            raise UnknownReference(f"{reader} has no registered encryption key")


@rule(DataKeyRotated)
def _key_rotated(state: State, event: Event, payload: DataKeyRotated) -> None:
    current = series(state, payload.dataset_id)
    if current is None:
        found = dataset(state, payload.dataset_id)
        if found is None:
            raise UnknownReference(f"dataset {payload.dataset_id} is not registered")
        if found.owner != event.actor:
            raise Unauthorized(f"only the owner of dataset {payload.dataset_id} ({found.owner}) opens its key epochs")
        if payload.epoch != 0:
            raise InvalidTransition(f"the first key epoch of a dataset is 0, not {payload.epoch}")
    else:
        _require_owner(state, payload.dataset_id, event.actor, "rotates its data key")
        if payload.epoch != current.epoch + 1:
            raise InvalidTransition(f"the next key epoch of {payload.dataset_id} is {current.epoch + 1}")
    _check_readers(state, list(payload.readers), live_readers(state, payload.dataset_id, event.actor, event.time))
    readers = tuple(payload.readers)
    state.put(
        "access_series",
        payload.dataset_id,
        SeriesRecord(payload.dataset_id, event.actor, payload.epoch, payload.keys, readers, event.id, event.time),
    )
    state.put(
        "access_epochs",
        f"{payload.dataset_id}#{payload.epoch}",
        EpochRecord(payload.keys, readers, event.id, event.time),
    )


@rule(DatasetEncrypted)
def _dataset_encrypted(state: State, event: Event, payload: DatasetEncrypted) -> None:
    found = dataset(state, payload.dataset_id)
    if found is None:
        raise UnknownReference(f"dataset {payload.dataset_id} is not registered")
    if found.owner != event.actor:
        raise Unauthorized(f"only the owner of dataset {payload.dataset_id} ({found.owner}) seals it")
    record = _require_owner(state, payload.series, event.actor, "seals versions under its data key")
    if sealed(state, payload.dataset_id) is not None:
        raise DuplicateRegistration(f"dataset {payload.dataset_id} is sealed already")
    if payload.epoch != record.epoch:
        raise InvalidTransition(
            f"the data key of epoch {payload.epoch} is retired: new versions are sealed under epoch {record.epoch}"
        )
    if needs_rotation(state, payload.series):
        raise InvalidTransition(
            f"a grant of {payload.series} was revoked in epoch {record.epoch}: rotate the data key before sealing"
        )
    state.put(
        "sealed_datasets",
        payload.dataset_id,
        SealedRecord(payload.series, payload.epoch, payload.sealed, event.id, event.time),
    )


@rule(AccessGranted)
def _access_granted(state: State, event: Event, payload: AccessGranted) -> None:
    record = _require_owner(state, payload.dataset_id, event.actor, "grants access")
    if payload.grantee == record.owner:
        raise InvalidTransition("the owner needs no grant to its own dataset")
    key = encryption_key(state, payload.grantee)
    if key is None:
        raise UnknownReference(f"{payload.grantee} has no registered encryption key: no grant to an unknown key")
    if key.public_key != payload.recipient_key:
        raise InvalidTransition(f"the data key was wrapped for another key than {payload.grantee}'s registered one")
    previous = grant(state, payload.dataset_id, payload.grantee)
    if payload.epoch != record.epoch:
        final = "" if previous is None or previous.revoked_epoch != payload.epoch else " (revocation is final for it)"
        raise InvalidTransition(
            f"epoch {payload.epoch} of {payload.dataset_id} is closed{final}: grants name the current epoch "
            f"{record.epoch}"
        )
    if previous is not None and previous.revoked_epoch == record.epoch:
        raise InvalidTransition(f"{payload.grantee} was revoked in epoch {record.epoch}: revocation is final for it")
    if payload.expires is not None and payload.expires <= event.time:
        raise InvalidTransition(f"the grant expires at {payload.expires}, before it is made ({event.time})")
    if previous is not None and is_active(previous, event.time) and previous.recipient_key == payload.recipient_key:
        raise DuplicateRegistration(f"{payload.grantee} holds a live grant for {payload.dataset_id} already")
    state.put(
        "access_grants",
        f"{payload.dataset_id}|{payload.grantee}",
        GrantRecord(
            Address(payload.grantee),
            payload.epoch,
            payload.wrapped_key,
            payload.recipient_key,
            payload.purpose,
            payload.expires,
            event.id,
            event.time,
        ),
    )


@rule(AccessRevoked)
def _access_revoked(state: State, event: Event, payload: AccessRevoked) -> None:
    record = _require_owner(state, payload.dataset_id, event.actor, "revokes access")
    found = grant(state, payload.dataset_id, payload.grantee)
    if found is None or found.revoked_epoch is not None:
        raise InvalidTransition(f"{payload.grantee} holds no unrevoked grant for {payload.dataset_id}")
    state.put(
        "access_grants",
        f"{payload.dataset_id}|{payload.grantee}",
        _revoked(found, record.epoch, event.time),
    )


def _revoked(found: GrantRecord, epoch: int, time: int) -> GrantRecord:
    from dataclasses import replace

    return replace(found, revoked_epoch=epoch, revoked_time=time)


@rule(AccessUsed)
def _access_used(state: State, event: Event, payload: AccessUsed) -> None:
    sealing = sealed(state, payload.dataset_id)
    if sealing is None:
        raise UnknownReference(f"dataset {payload.dataset_id} is not sealed")
    if payload.epoch != sealing.epoch:
        raise InvalidTransition(f"dataset {payload.dataset_id} is sealed under epoch {sealing.epoch}")
    check_access(state, sealing.series, event.actor, event.time)


_REASON = (
    "access events stay off chain: Ledger.vy is at 23.4k of the 24.6k-byte EIP-170 contract limit, so grants, "
    "keys and the access log are kept on the embedded (SQLite) ledger only"
)
for _kind in (EncryptionKeyRegistered, DataKeyRotated, DatasetEncrypted, AccessGranted, AccessRevoked, AccessUsed):
    not_on_chain(_kind, _REASON)

ACCESS_KINDS = (
    "EncryptionKeyRegistered",
    "DataKeyRotated",
    "DatasetEncrypted",
    "AccessGranted",
    "AccessRevoked",
    "AccessUsed",
)
"""Every kind of this vocabulary."""

__all__ = [
    "ACCESS_KINDS",
    "MAX_READERS",
    "AccessGranted",
    "AccessRevoked",
    "AccessUsed",
    "DataKeyRotated",
    "DatasetEncrypted",
    "EncryptionKeyRecord",
    "EncryptionKeyRegistered",
    "EpochRecord",
    "GrantExpired",
    "GrantRecord",
    "GrantRevoked",
    "NoGrant",
    "SealedRecord",
    "SeriesRecord",
    "check_access",
    "encryption_key",
    "epoch_record",
    "grant",
    "grants",
    "is_active",
    "live_readers",
    "may_use",
    "needs_rotation",
    "sealed",
    "series",
]
