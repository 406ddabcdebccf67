"""Ledger URLs and the scheme -> backend registry behind ``Ledger.open`` / ``Ledger.create``.

Backends are named by ``"package.module:Class"`` and imported on first use (the fsspec ``known_implementations``
shape), so optional dependencies stay lazy (web3 only for ``evm+http``) and nothing here imports a backend. A
backend class offers ``open_url(url, *, validator, signers)`` and ``create_url(url, *, admin, validator, name)``,
each parsing its own URL options.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qs, quote, urlparse

from ..errors import ConfigError
from ..identity import Identity
from .base import LedgerBackend

known_backends: dict[str, str] = {
    "sqlite": "ledgerml.ledger.sqlite:SqliteLedger",
    "evm+http": "ledgerml.ledger.evm.backend:EvmLedger",
    "evm+https": "ledgerml.ledger.evm.backend:EvmLedger",
    "http": "ledgerml.ledger.remote:RemoteLedger",
    "https": "ledgerml.ledger.remote:RemoteLedger",
}
"""URL scheme -> ``"module:Class"`` of its backend. Register another with :func:`register_backend`."""


@dataclass(frozen=True)
class LedgerURL:
    """A parsed ledger URL: ``sqlite:///path/to/ledger.db?synchronous=full&block_size=1000``,
    ``evm+http://127.0.0.1:8545?deployment=deployment.json`` (``path`` is then the node's RPC URL), or
    ``http://127.0.0.1:8000`` for a ledger served by ``ledgerml serve`` (``path`` is the service's URL)."""

    scheme: str
    path: str
    options: dict[str, str]


def parse_ledger_url(url: str) -> LedgerURL:
    """Split a ledger URL into scheme, path and options; raise ``ConfigError`` on a bad one."""
    parsed = urlparse(url)
    options = {key: values[-1] for key, values in parse_qs(parsed.query, keep_blank_values=True).items()}
    if parsed.scheme in ("evm+http", "evm+https"):
        if not parsed.netloc:
            raise ConfigError(f"ledger URL {url!r} names no node: evm+http://HOST:PORT?deployment=FILE")
        return LedgerURL(parsed.scheme, f"{parsed.scheme[4:]}://{parsed.netloc}{parsed.path}", options)
    if parsed.scheme in ("http", "https"):
        if not parsed.netloc:
            raise ConfigError(
                f"ledger URL {url!r} names no host: http://HOST:PORT (a ledger served by 'ledgerml serve')"
            )
        return LedgerURL(parsed.scheme, f"{parsed.scheme}://{parsed.netloc}{parsed.path.rstrip('/')}", options)
    if parsed.scheme != "sqlite":
        known = ", ".join(sorted(known_backends))
        raise ConfigError(
            f"unsupported ledger URL {url!r}: expected sqlite:///PATH, evm+http://HOST:PORT?deployment=FILE or "
            f"http://HOST:PORT (schemes: {known})"
        )
    if parsed.netloc not in ("", "localhost"):
        raise ConfigError(f"sqlite URLs name a local file: sqlite:///PATH, got host {parsed.netloc!r}")
    if not parsed.path or parsed.path == "/":
        raise ConfigError(f"ledger URL {url!r} names no file")
    # SQLAlchemy's convention: sqlite:///relative/path.db and sqlite:////absolute/path.db
    return LedgerURL(parsed.scheme, parsed.path[1:], options)


def sqlite_url(path: str | os.PathLike[str], **options: object) -> str:
    """The ledger URL of a SQLite file, e.g. ``sqlite:////abs/ledger.db?synchronous=full``."""
    query = "&".join(f"{key}={value}" for key, value in options.items())
    return f"sqlite:///{os.fspath(path)}" + (f"?{query}" if query else "")


def evm_url(rpc: str, deployment: str | os.PathLike[str], **options: object) -> str:
    """The ledger URL of a deployment on an EVM node, e.g. ``evm+http://127.0.0.1:8545?deployment=/d.json``."""
    if not rpc.startswith(("http://", "https://")):
        raise ConfigError(f"the node's RPC URL must be http(s)://HOST:PORT, got {rpc!r}")
    query = "&".join(
        f"{key}={quote(str(value), safe='/:')}" for key, value in {"deployment": deployment, **options}.items()
    )
    return f"evm+{rpc}?{query}"


def register_backend(scheme: str, target: str, *, clobber: bool = False) -> None:
    """Map ``scheme`` to a backend class named ``"module:Class"`` (which must offer ``open_url``/``create_url``)."""
    if scheme in known_backends and not clobber:
        raise ValueError(f"ledger URL scheme {scheme!r} is registered already")
    known_backends[scheme] = target


def backend_class(scheme: str) -> Any:
    """The backend class registered for ``scheme``, imported on first use."""
    target = known_backends.get(scheme)
    if target is None:
        raise ConfigError(f"no ledger backend for URL scheme {scheme!r}; known: {', '.join(sorted(known_backends))}")
    module, _, name = target.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError as exc:
        raise ConfigError(
            f"the {scheme} ledger backend needs {exc.name or module}: pip install 'ledgerml[evm]'"
        ) from None


class Ledger:
    """Entry point: ``Ledger.create(url, ...)`` makes a new ledger, ``Ledger.open(url)`` opens one."""

    @staticmethod
    def open(url: str, *, validator: Identity | None = None, signers: Sequence[Identity] = ()) -> LedgerBackend:
        """Open an existing ledger. ``validator`` (a validator's key) lets this process seal blocks;
        ``signers`` are the keys an EVM ledger may send transactions with (``submit`` adds its identity)."""
        parsed = parse_ledger_url(url)
        opened = backend_class(parsed.scheme).open_url(parsed, validator=validator, signers=signers)
        return cast(LedgerBackend, opened)

    @staticmethod
    def create(url: str, *, admin: Identity, validator: Identity | None = None, name: str = "ledger") -> LedgerBackend:
        """Create a new ledger whose genesis event makes ``admin`` the admin and ``validator`` (default: ``admin``)
        the validator. For ``evm+http://...?deployment=FILE`` this deploys the contracts and writes FILE."""
        parsed = parse_ledger_url(url)
        created = backend_class(parsed.scheme).create_url(parsed, admin=admin, validator=validator, name=name)
        return cast(LedgerBackend, created)


def url_options(
    options: dict[str, str], *, ints: Sequence[str] = (), floats: Sequence[str] = (), **other: str
) -> dict[str, Any]:
    """Typed URL options: every key must be in ``ints``, ``floats`` or ``other`` (whose value names a kind:
    ``"text"`` or ``"bool"``); ``ConfigError`` for an unknown key or a value of the wrong kind."""
    known = {*ints, *floats, *other}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(f"unknown ledger URL option(s) {unknown}; known: {sorted(known)}")
    result: dict[str, Any] = {}
    for key, value in options.items():
        try:
            if key in ints:
                result[key] = int(value)
            elif key in floats:
                result[key] = float(value)
            elif other[key] == "bool":
                if value not in ("0", "1", "true", "false"):
                    raise ValueError(f"{key} is 1/true or 0/false")
                result[key] = value in ("1", "true")
            else:
                result[key] = value
        except ValueError as exc:
            raise ConfigError(f"bad ledger URL option: {exc}") from None
    return result


__all__ = [
    "Ledger",
    "LedgerURL",
    "backend_class",
    "evm_url",
    "known_backends",
    "parse_ledger_url",
    "register_backend",
    "sqlite_url",
    "url_options",
]
