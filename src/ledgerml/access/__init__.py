"""Secure data sharing: sealed (encrypted) datasets, HPKE-wrapped data keys, grants, revocation by key rotation,
and the access log - every change an event on the ledger (``ledgerml.vocab.access``)."""

from .crypto import DecryptionFailed, WrongKey
from .grants import Rotation, grant_access, resolve_series, revoke_access, rotate_key
from .keys import register_encryption_key
from .open import Opened, decrypt_dataset
from .report import access_report
from .seal import SealResult, seal_dataset

__all__ = [
    "DecryptionFailed",
    "Opened",
    "Rotation",
    "SealResult",
    "WrongKey",
    "access_report",
    "decrypt_dataset",
    "grant_access",
    "register_encryption_key",
    "resolve_series",
    "revoke_access",
    "rotate_key",
    "seal_dataset",
]
