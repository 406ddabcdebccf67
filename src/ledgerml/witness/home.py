"""What a ledger home keeps for witnessing: its Ed25519 checkpoint key (bound to the ledger by the validator),
the witnesses it trusts, and the cosigned checkpoints it collected; ``trust`` and ``publish``."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._files import replace_atomically
from .._json import load_file
from ..errors import AlreadyExists, ConfigError, NotFound
from ..home import Home
from ..ledger.base import LedgerBackend
from ..ledger.blocks import BlockHeader
from .checkpoint import AddCheckpoint, Checkpoint, cosignature_by
from .client import check_url, fetch_identity, post, register_log
from .note import (
    TYPE_ED25519,
    Note,
    NoteError,
    Signature,
    VerifierKey,
    ed25519_public,
    parse_note,
    parse_signature_line,
    sign_note_text,
)

KEY_FILE = "checkpoint-key.json"
WITNESSES_FILE = "witnesses.json"
COSIGNED_FILE = "cosigned.json"
MAX_FILE = 64 << 20
BINDING_PREFIX = b"ledgerml-checkpoint-key/v1\n"


def origin_of(ledger_id: str) -> str:
    """The checkpoint origin (and log key name) of a ledger."""
    return f"ledgerml.local/{ledger_id}"


def binding_digest(ledger_id: str, vkey: str) -> bytes:
    """What the validator signs to bind the checkpoint key to its ledger."""
    return hashlib.sha256(BINDING_PREFIX + ledger_id.encode() + b"\n" + vkey.encode()).digest()


@dataclass
class LogKey:
    """The ledger's checkpoint signing key and the validator's signature binding it to the ledger."""

    origin: str
    seed: bytes
    validator: str
    binding: str

    @property
    def vkey(self) -> VerifierKey:
        """The Ed25519 verifier key witnesses check checkpoints with."""
        return VerifierKey(self.origin, TYPE_ED25519, ed25519_public(self.seed))


@dataclass(frozen=True)
class TrustedWitness:
    """A witness the home trusts: its name, cosignature key and URL."""

    name: str
    vkey: str
    url: str

    @property
    def key(self) -> VerifierKey:
        """The parsed verifier key."""
        return VerifierKey.parse(self.vkey)


def _write(path: Path, data: Any, *, private: bool = False) -> None:
    replace_atomically(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode(), private=private)


def _read(path: Path) -> Any:
    return load_file(path, max_bytes=MAX_FILE, error=ConfigError)


def load_log_key(home: Home) -> LogKey | None:
    """The home's checkpoint key, or None before the first publish or trust."""
    path = home.path / KEY_FILE
    if not path.exists():
        return None
    data = _read(path)
    try:
        return LogKey(
            str(data["origin"]), base64.b64decode(data["seed"], validate=True), data["validator"], data["binding"]
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path} is not a checkpoint key file: {exc}") from None


def ensure_log_key(home: Home, ledger: LedgerBackend) -> LogKey:
    """The home's checkpoint key, created on first use and bound to the ledger by the validator's signature."""
    key = load_log_key(home)
    if key is not None:
        if key.origin != origin_of(ledger.ledger_id):
            raise ConfigError(f"{home.path / KEY_FILE} belongs to another ledger ({key.origin})")
        return key
    validator = home.identity(home.config().validator)
    seed = secrets.token_bytes(32)
    origin = origin_of(ledger.ledger_id)
    vkey = str(VerifierKey(origin, TYPE_ED25519, ed25519_public(seed)))
    binding = "0x" + validator.sign_digest(binding_digest(ledger.ledger_id, vkey)).hex()
    key = LogKey(origin, seed, validator.address, binding)
    document = {
        "origin": origin,
        "seed": base64.b64encode(seed).decode(),
        "vkey": vkey,
        "validator": validator.address,
        "binding": binding,
    }
    _write(home.path / KEY_FILE, document, private=True)
    return key


def trusted_witnesses(home: Home) -> list[TrustedWitness]:
    """The witnesses ``ledgerml witness trust`` recorded."""
    path = home.path / WITNESSES_FILE
    if not path.exists():
        return []
    data = _read(path)
    try:
        found = [TrustedWitness(str(w["name"]), str(w["vkey"]), str(w["url"])) for w in data["witnesses"]]
        for witness in found:
            witness.key  # noqa: B018 - refuses a mangled key
    except (KeyError, TypeError, NoteError) as exc:
        raise ConfigError(f"{path} is not a witnesses file: {exc}") from None
    return found


def trust_witness(home: Home, ledger: LedgerBackend, url: str) -> TrustedWitness:
    """Fetch the witness's name and key, register this ledger's checkpoint key with it, and record it."""
    base = check_url(url)
    key = fetch_identity(base)
    known = trusted_witnesses(home)
    for witness in known:
        if witness.name == key.name and witness.vkey != str(key):
            raise AlreadyExists(f"a witness named {key.name} with another key is trusted already")
    log_key = ensure_log_key(home, ledger)
    register_log(base, log_key.origin, str(log_key.vkey))
    entry = TrustedWitness(key.name, str(key), base)
    others = [w for w in known if w.name != key.name]
    _write(home.path / WITNESSES_FILE, {"witnesses": [w.__dict__ for w in [*others, entry]]})
    return entry


def cosigned_notes(home: Home) -> list[str]:
    """Every cosigned checkpoint note the home collected, oldest first."""
    path = home.path / COSIGNED_FILE
    if not path.exists():
        return []
    data = _read(path)
    notes = data.get("checkpoints") if isinstance(data, dict) else None
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise ConfigError(f"{path} is not a cosigned-checkpoints file")
    return notes


@dataclass
class Published:
    """What ``checkpoint publish`` did: the checkpoint, who cosigned it, who refused and why."""

    checkpoint: Checkpoint
    cosigned_by: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON data for ``--json``."""
        return {
            "origin": self.checkpoint.origin,
            "size": self.checkpoint.size,
            "root": base64.b64encode(self.checkpoint.root).decode(),
            "cosigned_by": self.cosigned_by,
            "failed": self.failed,
        }


def last_cosigned_sizes(notes: list[str], witnesses: list[TrustedWitness]) -> dict[str, int]:
    """The size of the newest checkpoint each witness cosigned among ``notes`` (absent: never); notes are appended
    in publishing order, so the search runs from the newest and stops once every witness is found."""
    sizes: dict[str, int] = {}
    for text in reversed(notes):
        note = parse_note(text)
        size = int(note.text.split("\n")[1])
        for witness in witnesses:
            if witness.name in sizes:
                continue
            if cosignature_by(witness.key, note.text, note.signatures) is not None:
                sizes[witness.name] = size
        if len(sizes) == len(witnesses):
            break
    return sizes


def _proof(ledger: LedgerBackend, old_size: int, head: BlockHeader) -> list[bytes]:
    """The RFC 9162 consistency proof from the block of ``old_size`` events to ``head``."""
    if old_size in (0, head.log_size):
        return []
    for block in ledger.blocks():
        if block.log_size == old_size:
            return ledger.consistency_proof(block.height, head.height).path
    raise NotFound(f"no block of this ledger seals exactly {old_size} events: cannot prove consistency from it")


def _cosign_one(
    ledger: LedgerBackend,
    witness: TrustedWitness,
    note: str,
    head: BlockHeader,
    old: int,
    proofs: dict[int, list[bytes]],
) -> Signature:
    """Ask one witness to cosign ``note`` (``proofs`` by old size, computed beforehand); retry once from the size
    the witness says it has (409), whose proof is computed here."""
    for _attempt in range(2):
        proof = proofs[old] if old in proofs else _proof(ledger, old, head)
        body = AddCheckpoint(old, tuple(proof), note).encode()
        status, reply = post(witness.url + "/add-checkpoint", body)
        text = reply.decode("utf-8", "replace")
        if status == 409 and text.strip().isdigit() and int(text.strip()) != old:
            old = int(text.strip())
            continue
        if status != 200:
            raise ConfigError(f"HTTP {status}: {text.strip()[:200]}")
        sig = cosignature_by(witness.key, parse_note(note).text, map(parse_signature_line, text.splitlines()))
        if sig is not None:
            return sig
        raise ConfigError("the reply carries no valid cosignature by the witness's key")
    raise ConfigError(f"the witness keeps a checkpoint of size {old} that this ledger does not extend")


def publish(home: Home, ledger: LedgerBackend, urls: list[str] | None = None, *, seal: bool = True) -> Published:
    """Seal pending events (with ``seal``, when this process holds the validator key), sign the sealed head as a
    checkpoint, collect the witnesses' cosignatures and store them atomically. Witnesses are checked first: an
    unknown one changes nothing."""
    trusted = trusted_witnesses(home)
    chosen = trusted
    if urls:
        by_url = {w.url: w for w in trusted}
        missing = [u for u in urls if check_url(u) not in by_url]
        if missing:
            raise NotFound(f"{missing[0]} is not a trusted witness (run 'ledgerml witness trust {missing[0]}')")
        chosen = [by_url[check_url(u)] for u in urls]
    if not chosen:
        raise NotFound("no witness is trusted yet: run 'ledgerml witness trust URL' first")
    log_key = ensure_log_key(home, ledger)
    if seal and ledger.validator is not None:
        ledger.seal()
    head = ledger.block()
    checkpoint = Checkpoint(log_key.origin, head.log_size, head.log_root)
    text = checkpoint.text()
    note = Note(text, (sign_note_text(text, log_key.origin, log_key.seed),)).encode()
    notes = cosigned_notes(home)
    sizes = last_cosigned_sizes(notes, chosen)
    result, signatures = Published(checkpoint), []
    proofs = {size: _proof(ledger, size, head) for size in {sizes.get(w.name, 0) for w in chosen}}
    with ThreadPoolExecutor(max_workers=len(chosen)) as pool:  # the witnesses answer in parallel
        futures = [(w, pool.submit(_cosign_one, ledger, w, note, head, sizes.get(w.name, 0), proofs)) for w in chosen]
        for witness, future in futures:
            try:
                signatures.append(future.result())
                result.cosigned_by.append(witness.name)
            except (ConfigError, NotFound, NoteError) as exc:
                result.failed[witness.name] = str(exc)
    if not signatures:
        name, reason = next(iter(result.failed.items()))
        raise WitnessRefused(f"no witness cosigned the checkpoint of size {head.log_size}; {name}: {reason}")
    cosigned = Note(text, (*parse_note(note).signatures, *signatures)).encode()
    _write(home.path / COSIGNED_FILE, {"checkpoints": [*notes, cosigned]})
    return result


class WitnessRefused(ConfigError):
    """Every witness asked refused or failed to cosign: nothing was stored."""

    exit_code = 8


__all__ = [
    "Published",
    "TrustedWitness",
    "WitnessRefused",
    "binding_digest",
    "cosigned_notes",
    "ensure_log_key",
    "origin_of",
    "publish",
    "trust_witness",
    "trusted_witnesses",
]
