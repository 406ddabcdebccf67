"""C2SP tlog-checkpoint note text, tlog-cosignature (``cosignature/v1``, Ed25519) and the tlog-witness
``add-checkpoint`` request body. Plain functions; no I/O."""

from __future__ import annotations

import base64
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from .note import (
    TYPE_COSIGNATURE_V1,
    NoteError,
    Signature,
    VerifierKey,
    b64decode_strict,
    check_name,
    ed25519_public,
    ed25519_sign,
    ed25519_verify,
    key_id,
    parse_note,
)

MAX_TIMESTAMP = 2**63 - 1
MAX_PROOF_LINES = 63
_SIZE = re.compile(r"0|[1-9][0-9]{0,18}")


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: origin, tree size and RFC 6962 / 9162 root hash."""

    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        """The note text: three newline-terminated lines (no extension lines)."""
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


def _size(text: str, what: str) -> int:
    if not _SIZE.fullmatch(text) or int(text) > MAX_TIMESTAMP:
        raise NoteError(f"{what} must be a decimal number without leading zeros")
    return int(text)


def parse_checkpoint_text(text: str) -> Checkpoint:
    """Parse checkpoint note text (origin, size, base64 root; extension lines refused)."""
    lines = text.split("\n")
    if len(lines) != 4 or lines[3] != "":
        raise NoteError("a checkpoint is exactly three lines: origin, tree size, root hash (no extensions)")
    origin = lines[0]
    if not origin:
        raise NoteError("a checkpoint's origin is empty")
    root = b64decode_strict(lines[2], "the checkpoint root")
    if len(root) != 32:
        raise NoteError("a checkpoint root is a 32-byte SHA-256 hash")
    return Checkpoint(origin, _size(lines[1], "the tree size"), root)


def cosigned_message(text: str, timestamp: int) -> bytes:
    """What a ``cosignature/v1`` Ed25519 signature signs: header, time line, then the checkpoint text."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise NoteError("a cosignature timestamp is from 0 to 2^63 - 1")
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


def cosign(text: str, name: str, seed: bytes, timestamp: int) -> Signature:
    """The cosignature line (type 0x04) of witness ``name`` over checkpoint ``text`` at POSIX ``timestamp``."""
    check_name(name)
    parse_checkpoint_text(text)
    ident = key_id(name, TYPE_COSIGNATURE_V1, ed25519_public(seed))
    return Signature(name, ident, struct.pack(">Q", timestamp) + ed25519_sign(seed, cosigned_message(text, timestamp)))


def cosignature_timestamp(sig: Signature) -> int:
    """The timestamp a cosignature carries; ``NoteError`` unless it is 8 + 64 bytes."""
    if len(sig.value) != 72:
        raise NoteError(f"the cosignature of {sig.name} is not 8 + 64 bytes")
    (timestamp,) = struct.unpack(">Q", sig.value[:8])
    if timestamp > MAX_TIMESTAMP:
        raise NoteError(f"the cosignature of {sig.name} has a timestamp beyond 2^63 - 1")
    return int(timestamp)


def verify_cosignature(key: VerifierKey, text: str, sig: Signature) -> int | None:
    """The timestamp if ``sig`` is ``key``'s valid cosignature of ``text``; None if it is another key's line;
    ``NoteError`` if it is ``key``'s line and does not verify."""
    if key.key_type != TYPE_COSIGNATURE_V1:
        raise NoteError(f"{key.name} is not a cosignature/v1 key")
    if sig.name != key.name or sig.key_id != key.id:
        return None
    timestamp = cosignature_timestamp(sig)
    if not ed25519_verify(key.public_key, sig.value[8:], cosigned_message(text, timestamp)):
        raise NoteError(f"the cosignature of {key.name} does not verify")
    return timestamp


def cosignature_by(key: VerifierKey, text: str, signatures: Iterable[Signature]) -> Signature | None:
    """The first of ``signatures`` that is ``key``'s cosignature of ``text`` (None if no line is ``key``'s);
    ``NoteError`` if ``key``'s first line does not verify. ``signatures`` is read only up to that line."""
    for sig in signatures:
        if verify_cosignature(key, text, sig) is not None:
            return sig
    return None


def cosigners(note_text: str, keys: list[VerifierKey]) -> dict[str, int]:
    """Witness name -> timestamp for every key in ``keys`` with a valid cosignature in the signed note."""
    note = parse_note(note_text)
    parse_checkpoint_text(note.text)
    found: dict[str, int] = {}
    for key in keys:
        sig = cosignature_by(key, note.text, note.signatures)
        if sig is not None:
            found[key.name] = cosignature_timestamp(sig)
    return found


@dataclass(frozen=True)
class AddCheckpoint:
    """A tlog-witness ``add-checkpoint`` request: old size, consistency proof, the signed checkpoint note."""

    old_size: int
    proof: tuple[bytes, ...]
    note: str

    def encode(self) -> bytes:
        """The request body."""
        lines = [f"old {self.old_size}"] + [base64.b64encode(h).decode() for h in self.proof]
        return ("\n".join(lines) + "\n\n" + self.note).encode()


def parse_add_checkpoint(body: bytes) -> AddCheckpoint:
    """Parse an ``add-checkpoint`` body; ``NoteError`` (HTTP 400) when malformed."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise NoteError("the request body is not UTF-8") from None
    head, sep, note = text.partition("\n\n")
    lines = head.split("\n")
    if not sep or not lines[0].startswith("old "):
        raise NoteError("the body starts with 'old SIZE', proof lines and a blank line")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise NoteError(f"at most {MAX_PROOF_LINES} consistency proof lines")
    proof = tuple(b64decode_strict(line, "a proof line") for line in lines[1:])
    if any(len(h) != 32 for h in proof):
        raise NoteError("each proof line is a 32-byte hash")
    return AddCheckpoint(_size(lines[0][4:], "the old size"), proof, note)


__all__ = [
    "AddCheckpoint",
    "Checkpoint",
    "cosign",
    "cosignature_by",
    "cosignature_timestamp",
    "cosigned_message",
    "cosigners",
    "parse_add_checkpoint",
    "parse_checkpoint_text",
    "verify_cosignature",
]
