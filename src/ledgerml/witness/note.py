"""C2SP signed-note: verifier keys (vkeys), Ed25519 note signatures and key IDs, parsing and signing notes.

A note is a text ending in a newline, a blank line, then signature lines ``— NAME base64(key ID || sig)``.
Key ID = SHA-256(name || 0x0A || type || public key)[:4]. Plain functions; Ed25519 from ``cryptography``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from ..errors import InvalidProof

EM_DASH = "\u2014"
TYPE_ED25519 = 0x01
TYPE_COSIGNATURE_V1 = 0x04
MAX_NOTE_BYTES = 1 << 20
MAX_SIGNATURES = 64
_NAME = re.compile(r"[^\s+]+")


class NoteError(InvalidProof):
    """A signed note, verifier key or signature is malformed or does not verify."""


def check_name(name: str) -> str:
    """``name`` if it is a valid key name (non-empty, no Unicode spaces, no plus), else ``NoteError``."""
    if not _NAME.fullmatch(name) or any(ord(c) < 0x20 for c in name):
        raise NoteError(f"key name {name[:60]!r} is empty or holds a space or a plus")
    return name


def key_id(name: str, key_type: int, public_key: bytes) -> bytes:
    """The 4-byte key ID of ``name`` and ``public_key`` for signature type ``key_type``."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([key_type]) + public_key).digest()[:4]


def b64decode_strict(text: str, what: str) -> bytes:
    """Standard padded base64 (RFC 4648 §4) that re-encodes to the same text, else ``NoteError``."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"{what} is not base64") from None
    if base64.b64encode(raw).decode() != text:
        raise NoteError(f"{what} is not canonical base64")
    return raw


@dataclass(frozen=True)
class VerifierKey:
    """A verifier key ``NAME+HEXID+base64(type || public key)`` of an Ed25519 (0x01) or cosignature (0x04) key."""

    name: str
    key_type: int
    public_key: bytes

    @property
    def id(self) -> bytes:
        """The 4-byte key ID."""
        return key_id(self.name, self.key_type, self.public_key)

    def __str__(self) -> str:
        encoded = base64.b64encode(bytes([self.key_type]) + self.public_key).decode()
        return f"{self.name}+{self.id.hex()}+{encoded}"

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        """Parse a vkey; ``NoteError`` unless its name, hex ID, type and 32-byte key are well formed and agree."""
        parts = text.split("+", 2)
        if len(parts) != 3:
            raise NoteError("a verifier key is NAME+KEYID+KEY")
        name, hex_id, material = parts
        check_name(name)
        if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
            raise NoteError("a verifier key's ID is 8 lowercase hex digits")
        raw = b64decode_strict(material, "the verifier key")
        if len(raw) != 33 or raw[0] not in (TYPE_ED25519, TYPE_COSIGNATURE_V1):
            raise NoteError("only Ed25519 (0x01) and cosignature/v1 (0x04) verifier keys of 32 bytes are supported")
        key = cls(name, raw[0], raw[1:])
        if key.id.hex() != hex_id:
            raise NoteError(f"verifier key {name}: its ID {hex_id} is not the hash of its name and key")
        return key


@dataclass(frozen=True)
class Signature:
    """One signature line: the key name, the key ID and the signature bytes after it."""

    name: str
    key_id: bytes
    value: bytes

    def line(self) -> str:
        """The line ``— NAME base64(id || value)`` with its newline."""
        return f"{EM_DASH} {self.name} {base64.b64encode(self.key_id + self.value).decode()}\n"


def parse_signature_line(line: str) -> Signature:
    """Parse ``— NAME BASE64`` (without its newline)."""
    prefix = EM_DASH + " "
    if not line.startswith(prefix):
        raise NoteError("a signature line starts with an em dash and a space")
    parts = line[len(prefix) :].split(" ")
    if len(parts) != 2:
        raise NoteError("a signature line is '— NAME SIGNATURE'")
    name, encoded = check_name(parts[0]), parts[1]
    raw = b64decode_strict(encoded, f"the signature of {name}")
    if len(raw) < 5:
        raise NoteError(f"the signature of {name} is too short")
    return Signature(name, raw[:4], raw[4:])


@dataclass(frozen=True)
class Note:
    """A parsed signed note: its text (with the final newline) and its signatures in order."""

    text: str
    signatures: tuple[Signature, ...]

    def encode(self) -> str:
        """The note as text: its text, a blank line, its signature lines."""
        return self.text + "\n" + "".join(s.line() for s in self.signatures)


def parse_note(data: str | bytes) -> Note:
    """Split a signed note into text and signature lines; ``NoteError`` when it is malformed."""
    raw = data.encode() if isinstance(data, str) else bytes(data)
    if len(raw) > MAX_NOTE_BYTES:
        raise NoteError(f"a note is at most {MAX_NOTE_BYTES:,} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise NoteError("a note must be UTF-8") from None
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteError("a note holds a control character")
    split = text.rfind("\n\n")
    if split < 0 or not text.endswith("\n"):
        raise NoteError("a note is text, a blank line and signature lines, each ending in a newline")
    body, lines = text[: split + 1], text[split + 2 : -1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"a note carries at most {MAX_SIGNATURES} signatures")
    return Note(body, tuple(parse_signature_line(line) for line in lines))


def ed25519_sign(seed: bytes, message: bytes) -> bytes:
    """RFC 8032 Ed25519 signature of ``message`` with the 32-byte private ``seed``."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(seed).sign(message)


def ed25519_public(seed: bytes) -> bytes:
    """The 32-byte public key of a private ``seed``."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def ed25519_verify(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """True if ``signature`` is a valid Ed25519 signature of ``message`` by ``public_key``."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def sign_note_text(text: str, name: str, seed: bytes) -> Signature:
    """The Ed25519 (type 0x01) note signature of ``text`` by key ``name`` with private ``seed``."""
    check_name(name)
    if not text.endswith("\n"):
        raise NoteError("note text must end in a newline")
    return Signature(name, key_id(name, TYPE_ED25519, ed25519_public(seed)), ed25519_sign(seed, text.encode()))


def verify_ed25519_note(note: Note, key: VerifierKey) -> bool:
    """True if ``note`` carries a valid type-0x01 signature by ``key``; ``NoteError`` if it carries a bad one."""
    if key.key_type != TYPE_ED25519:
        raise NoteError(f"{key.name} is not an Ed25519 note key")
    found = False
    for sig in note.signatures:
        if sig.name == key.name and sig.key_id == key.id:
            if not ed25519_verify(key.public_key, sig.value, note.text.encode()):
                raise NoteError(f"the signature of {key.name} does not verify")
            found = True
    return found


def parse_signer_key(text: str) -> tuple[str, bytes]:
    """``(name, seed)`` of a Go-style signer key ``PRIVATE+KEY+NAME+HEXID+base64(0x01 || seed)``."""
    if not text.startswith("PRIVATE+KEY+"):
        raise NoteError("a signer key starts with PRIVATE+KEY+")
    name, hex_id, material = [*text[len("PRIVATE+KEY+") :].split("+", 2), "", ""][:3]
    raw = b64decode_strict(material, "the signer key")
    if len(raw) != 33 or raw[0] != TYPE_ED25519:
        raise NoteError("only Ed25519 signer keys are supported")
    if key_id(check_name(name), TYPE_ED25519, ed25519_public(raw[1:])).hex() != hex_id:
        raise NoteError("the signer key's ID does not match its key")
    return name, raw[1:]


__all__ = [
    "EM_DASH",
    "TYPE_COSIGNATURE_V1",
    "TYPE_ED25519",
    "Note",
    "NoteError",
    "Signature",
    "VerifierKey",
    "ed25519_public",
    "ed25519_sign",
    "ed25519_verify",
    "key_id",
    "parse_note",
    "parse_signer_key",
    "sign_note_text",
    "verify_ed25519_note",
]
