"""Exception hierarchy: one root, specific subclasses that also inherit the matching builtin, CLI exit codes."""

from __future__ import annotations


class LedgerMLError(Exception):
    """Root of every error ledgerml raises on purpose."""

    exit_code: int = 1


class ConfigError(LedgerMLError, ValueError):
    """A setting, URL, option or ledger home is wrong or missing."""

    exit_code = 2


class NotFound(LedgerMLError, LookupError):
    """A named thing (identity, event, block, record) does not exist."""

    exit_code = 3


class AlreadyExists(LedgerMLError, FileExistsError):
    """Creating something that exists already (an identity, a ledger home)."""

    exit_code = 4


class KeystoreError(LedgerMLError, PermissionError):
    """A keystore cannot be opened: wrong password, corrupt file, no password given."""

    exit_code = 5


class StorageError(LedgerMLError, OSError):
    """A file cannot be read or written: disk full, no permission, a missing folder, a folder where a file goes."""

    exit_code = 6


class RejectedEvent(LedgerMLError):
    """Base for every reason the state machine refuses an event; nothing changes when it is raised.

    ``index`` is set when the event was part of a batch: its position in that batch.
    """

    exit_code = 10
    index: int | None = None

    def in_batch(self, index: int) -> RejectedEvent:
        """Record the event's position in a batch and say it in the message."""
        self.index = index
        self.args = (f"batch event {index}: {self.args[0] if self.args else ''}",)
        return self


class InvalidSignature(RejectedEvent, ValueError):
    """A signature cannot be parsed or recovered."""

    exit_code = 11


class SignerMismatch(InvalidSignature):
    """A signature is valid but was made by someone other than the stated actor."""

    exit_code = 12


class NonceError(RejectedEvent, ValueError):
    """Base for per-actor nonce violations."""

    exit_code = 13


class ReplayedNonce(NonceError):
    """The nonce was used already by this actor (a replay)."""


class NonceGap(NonceError):
    """The nonce skips ahead of the actor's next nonce."""


class Unauthorized(RejectedEvent, PermissionError):
    """The actor lacks the role the event needs."""

    exit_code = 14


class UnknownEventKind(RejectedEvent, ValueError):
    """The event kind is not part of the vocabulary."""

    exit_code = 15


class MalformedEvent(RejectedEvent, ValueError):
    """The envelope or payload does not match its schema or is not in canonical form."""

    exit_code = 16


class DuplicateRegistration(RejectedEvent, ValueError):
    """Registering something that is registered already (dataset, model, role held, genesis twice)."""

    exit_code = 17


class UnknownReference(RejectedEvent, LookupError):
    """The event names a dataset, model or identity the ledger does not know."""

    exit_code = 18


class InvalidTransition(RejectedEvent, ValueError):
    """The event breaks a lifecycle rule (revoking the last admin, revoking a role not held, ...)."""

    exit_code = 19


class WrongLedger(RejectedEvent, ValueError):
    """The event was signed for another ledger (cross-ledger replay)."""

    exit_code = 20


class InsufficientFunds(RejectedEvent, ValueError):
    """A balance, stake or reward pool is smaller than the amount the event moves."""

    exit_code = 21


class InvalidProof(LedgerMLError, ValueError):
    """An inclusion or consistency proof, or a signed block header, does not verify."""

    exit_code = 30


class TamperDetected(LedgerMLError, ValueError):
    """Stored ledger data contradicts its own signatures, hashes or rules."""

    exit_code = 31


__all__ = [
    "AlreadyExists",
    "ConfigError",
    "DuplicateRegistration",
    "InsufficientFunds",
    "InvalidProof",
    "InvalidSignature",
    "InvalidTransition",
    "KeystoreError",
    "LedgerMLError",
    "MalformedEvent",
    "NonceError",
    "NonceGap",
    "NotFound",
    "RejectedEvent",
    "ReplayedNonce",
    "SignerMismatch",
    "StorageError",
    "TamperDetected",
    "Unauthorized",
    "UnknownEventKind",
    "UnknownReference",
    "WrongLedger",
]
