"""A witness's key and per-log state (latest cosigned size and root), persisted atomically; the
``add-checkpoint`` decision of C2SP tlog-witness as one function of that state."""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._files import replace_atomically
from .._json import load_file
from ..errors import ConfigError, InvalidProof
from ..ledger.merkle import verify_consistency
from .checkpoint import cosign, parse_add_checkpoint, parse_checkpoint_text
from .note import TYPE_COSIGNATURE_V1, NoteError, VerifierKey, check_name, ed25519_public, parse_note
from .note import verify_ed25519_note as verify_log_signature

KEY_FILE = "witness.json"
STATE_FILE = "state.json"
MAX_STATE_BYTES = 16 << 20
SIZE_TYPE = "text/x.tlog.size"


@dataclass(frozen=True)
class Reply:
    """An HTTP reply: status, body and content type."""

    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"


@dataclass
class LogRecord:
    """What a witness keeps per log: the log's verifier key and the latest checkpoint it cosigned."""

    vkey: str
    size: int = 0
    root: str = ""


@dataclass
class WitnessIdentity:
    """A witness's name and Ed25519 private seed."""

    name: str
    seed: bytes

    @property
    def vkey(self) -> VerifierKey:
        """The cosignature/v1 verifier key clients pin."""
        return VerifierKey(self.name, TYPE_COSIGNATURE_V1, ed25519_public(self.seed))


def load_or_create_identity(folder: Path, name: str | None = None) -> WitnessIdentity:
    """The witness key in ``folder/witness.json``; created (mode 0600) on first start."""
    path = folder / KEY_FILE
    if path.exists():
        data: Any = load_file(path, max_bytes=1 << 16, error=ConfigError)
        try:
            identity = WitnessIdentity(check_name(str(data["name"])), base64.b64decode(data["seed"], validate=True))
            identity.vkey  # noqa: B018 - checks the seed is an Ed25519 key
        except (KeyError, TypeError, ValueError, NoteError) as exc:
            raise ConfigError(f"{path} is not a witness key file: {exc}") from None
        if name is not None and name != identity.name:
            raise ConfigError(f"the witness in {folder} is named {identity.name!r}, not {name!r}")
        return identity
    seed = secrets.token_bytes(32)
    identity = WitnessIdentity(check_name(name or f"witness.ledgerml.local/{ed25519_public(seed)[:4].hex()}"), seed)
    folder.mkdir(parents=True, exist_ok=True)
    document = {"name": identity.name, "seed": base64.b64encode(seed).decode(), "vkey": str(identity.vkey)}
    replace_atomically(path, (json.dumps(document, indent=2) + "\n").encode(), private=True)
    return identity


@dataclass
class WitnessState:
    """Every log a witness knows, by origin; each change is written to ``path`` before it is acknowledged."""

    path: Path
    logs: dict[str, LogRecord] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def load(cls, folder: Path) -> WitnessState:
        """The state in ``folder/state.json`` (empty when absent)."""
        path = folder / STATE_FILE
        if not path.exists():
            return cls(path)
        data: Any = load_file(path, max_bytes=MAX_STATE_BYTES, error=ConfigError)
        try:
            logs = {str(o): LogRecord(str(r["vkey"]), int(r["size"]), str(r["root"])) for o, r in data["logs"].items()}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"{path} is not a witness state file: {exc}") from None
        return cls(path, logs)

    def _save(self) -> None:
        document = {"logs": {o: {"vkey": r.vkey, "size": r.size, "root": r.root} for o, r in self.logs.items()}}
        replace_atomically(self.path, (json.dumps(document, indent=2, sort_keys=True) + "\n").encode(), private=True)
        _fsync_dir(self.path.parent)

    def register(self, origin: str, vkey: str) -> Reply:
        """Record a log's verifier key on first use; the same key again is fine, another key is 409."""
        try:
            key = VerifierKey.parse(vkey)
            if not origin or any(c in origin for c in "\n\r"):
                raise NoteError("an origin is one non-empty line")
        except NoteError as exc:
            return Reply(400, f"{exc}\n".encode())
        with self.lock:
            known = self.logs.get(origin)
            if known is not None:
                if known.vkey != str(key):
                    return Reply(409, b"this origin is registered with another log key\n")
                return Reply(200, b"known\n")
            self.logs[origin] = LogRecord(str(key))
            self._save()
        return Reply(200, b"registered\n")

    def add_checkpoint(self, body: bytes, identity: WitnessIdentity, now: int | None = None) -> Reply:
        """C2SP tlog-witness ``add-checkpoint``: check, persist, then cosign (atomically under the lock)."""
        try:
            request = parse_add_checkpoint(body)
            note = parse_note(request.note)
            checkpoint = parse_checkpoint_text(note.text)
        except NoteError as exc:
            return Reply(400, f"{exc}\n".encode())
        with self.lock:
            record = self.logs.get(checkpoint.origin)
            if record is None:
                return Reply(404, b"unknown log origin\n")
            try:
                signed = verify_log_signature(note, VerifierKey.parse(record.vkey))
            except NoteError:
                signed = False
            if not signed:
                return Reply(403, b"no signature by the log's key verifies\n")
            if request.old_size > checkpoint.size:
                return Reply(400, b"old size exceeds the checkpoint size\n")
            if request.old_size != record.size:
                return Reply(409, f"{record.size}\n".encode(), SIZE_TYPE)
            old_root = base64.b64decode(record.root) if record.root else b""
            if request.old_size == checkpoint.size and record.root and old_root != checkpoint.root:
                return Reply(409, f"{record.size}\n".encode(), SIZE_TYPE)
            if request.old_size < checkpoint.size and request.old_size > 0:
                try:
                    verify_consistency(
                        request.old_size, checkpoint.size, old_root, checkpoint.root, list(request.proof)
                    )
                except InvalidProof as exc:
                    return Reply(422, f"{exc}\n".encode())
            elif request.proof:
                return Reply(422, b"the consistency proof must be empty here\n")
            record.size, record.root = checkpoint.size, base64.b64encode(checkpoint.root).decode()
            self._save()
        stamp = int(time.time()) if now is None else now
        return Reply(200, cosign(note.text, identity.name, identity.seed, stamp).line().encode())


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (where the platform allows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


__all__ = ["LogRecord", "Reply", "WitnessIdentity", "WitnessState", "load_or_create_identity"]
