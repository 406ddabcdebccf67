"""API tokens of the ledger service: per identity or read-only auditor, stored hashed, revocable."""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from .._files import replace_atomically
from .._json import load_file
from ..errors import ConfigError, NotFound
from ..ledger.remote import Forbidden, Unauthenticated
from ..types import Address, to_address

Scope = Literal["participant", "auditor", "admin"]
SCOPES: tuple[Scope, ...] = ("participant", "auditor", "admin")
"""``participant``: read, and append events whose actor is the token's identity; ``auditor``: read only;
``admin``: read, append any signed event, seal blocks."""
TOKEN_PREFIX = "lml_"
MAX_TOKENS_BYTES = 4 << 20
"""Largest ``tokens.json`` read."""


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """One token as stored: its SHA-256 (never the token), who it is for and whether it is revoked."""

    token_id: str
    name: str
    scope: Scope
    identity: Address | None
    sha256: str
    created: int
    revoked: int | None = None

    def public(self) -> dict[str, object]:
        """The record without its hash, for listings."""
        data = asdict(self)
        del data["sha256"]
        return data


def hash_token(token: str) -> str:
    """The stored form of a token: hex SHA-256 of its text (tokens are 256-bit random, so no salt is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _record(data: object, where: str) -> TokenRecord:
    if not isinstance(data, dict) or set(data) != set(TokenRecord.__dataclass_fields__):
        raise ConfigError(f"{where}: a token record must have exactly {sorted(TokenRecord.__dataclass_fields__)}")
    if data["scope"] not in SCOPES:
        raise ConfigError(f"{where}: unknown scope {data['scope']!r}")
    identity = None if data["identity"] is None else to_address(str(data["identity"]))
    return TokenRecord(**{**data, "identity": identity})


class TokenStore:
    """``HOME/service/tokens.json``: the token records; writes replace the file whole."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._cache: tuple[float, dict[str, TokenRecord], dict[str, TokenRecord]] | None = None
        """The file's mtime, its records by id, and by token hash (one dict lookup per request)."""

    def records(self) -> list[TokenRecord]:
        """Every token record, revoked ones included, in creation order."""
        return list(self._load().values())

    def _load(self) -> dict[str, TokenRecord]:
        """The records by id."""
        return self._loaded()[0]

    def _loaded(self) -> tuple[dict[str, TokenRecord], dict[str, TokenRecord]]:
        """The records by id and by token hash, read again only when the file's mtime changed (one stat)."""
        try:
            mtime = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return {}, {}
        cache = self._cache
        if cache is not None and cache[0] == mtime:
            return cache[1], cache[2]
        data = load_file(self.path, max_bytes=MAX_TOKENS_BYTES, error=ConfigError)
        if not isinstance(data, list):
            raise ConfigError(f"{self.path} must hold a JSON list of token records")
        loaded = {r.token_id: r for r in (_record(item, str(self.path)) for item in data)}
        by_hash = {r.sha256: r for r in loaded.values()}
        self._cache = (mtime, loaded, by_hash)
        return loaded, by_hash

    def _save(self, records: dict[str, TokenRecord]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps([asdict(r) for r in records.values()], indent=2) + "\n"
        replace_atomically(self.path, text.encode())
        self.path.chmod(0o600)

    def create(self, name: str, scope: Scope, identity: str | None = None) -> tuple[str, TokenRecord]:
        """A new token (returned once, in clear) and its record; ``ConfigError`` for a bad name, scope or identity."""
        if scope not in SCOPES:
            raise ConfigError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
        if not name or len(name) > 64 or not name.isprintable():
            raise ConfigError("a token name is 1 to 64 printable characters")
        if (scope == "participant") != (identity is not None):
            raise ConfigError("a participant token names its identity (--identity); auditor and admin tokens do not")
        address = to_address(identity) if identity is not None else None
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._lock:
            records = dict(self._load())
            token_id = secrets.token_hex(4)
            while token_id in records:
                token_id = secrets.token_hex(4)
            record = TokenRecord(token_id, name, scope, address, hash_token(token), int(time.time()))
            records[token_id] = record
            self._save(records)
        return token, record

    def revoke(self, token_id: str) -> TokenRecord:
        """Mark a token revoked (it stays listed); ``NotFound`` for an unknown id."""
        with self._lock:
            records = dict(self._load())
            record = records.get(token_id)
            if record is None:
                raise NotFound(f"no token with id {token_id!r} (see 'ledgerml remote token list')")
            if record.revoked is None:
                record = TokenRecord(**{**asdict(record), "revoked": int(time.time())})
                records[token_id] = record
                self._save(records)
        return record

    def authenticate(self, token: str | None) -> TokenRecord:
        """The live record of ``token``; ``Unauthenticated`` when it is missing, unknown or revoked."""
        if not token:
            raise Unauthenticated("this request needs an API token: Authorization: Bearer TOKEN")
        digest = hash_token(token)
        found = self._loaded()[1].get(digest)  # a stat() per request: a revocation by another process counts at once
        if found is None:
            raise Unauthenticated("the API token is not known")
        if found.revoked is not None:
            raise Unauthenticated(f"the API token {found.token_id} was revoked")
        return found


def require_writer(record: TokenRecord, actor: str) -> None:
    """Refuse a write the token does not allow: auditors never write, a participant only as its identity."""
    if record.scope == "auditor":
        raise Forbidden(f"token {record.token_id} is an auditor's: read-only")
    if record.scope == "participant" and record.identity != actor:
        raise Forbidden(f"token {record.token_id} may append events of {record.identity} only, not of {actor}")


def require_admin(record: TokenRecord, what: str) -> None:
    """Refuse ``what`` unless the token is an admin's."""
    if record.scope != "admin":
        raise Forbidden(f"{what} needs an admin token; token {record.token_id} is a {record.scope}'s")


__all__ = [
    "SCOPES",
    "Forbidden",
    "Scope",
    "TokenRecord",
    "TokenStore",
    "Unauthenticated",
    "hash_token",
    "require_admin",
    "require_writer",
]
