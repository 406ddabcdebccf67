"""The ``LedgerBackend`` protocol every backend implements, its result types, and ``Ledger.open``."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qs, urlparse

from ..errors import ConfigError
from ..events import Event, Payload
from ..identity import Identity
from ..state import State
from .blocks import BlockHeader
from .proofs import ConsistencyProof, InclusionProof

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(done, total)`` during long work."""


@dataclass(frozen=True, slots=True)
class Receipt:
    """What an accepted append returns: the event's position and id."""

    seq: int
    event_id: str


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as stored: its log position and the first block that includes it, if sealed yet."""

    seq: int
    event: Event
    block_height: int | None


@dataclass
class VerifyReport:
    """Outcome of a whole-ledger audit. ``problem`` names the first bad block or event."""

    ok: bool
    events_checked: int = 0
    blocks_checked: int = 0
    unsealed_events: int = 0
    problem: str | None = None
    location: str | None = None
    state_digest: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON data for ``--json`` output."""
        return {
            "ok": self.ok,
            "events_checked": self.events_checked,
            "blocks_checked": self.blocks_checked,
            "unsealed_events": self.unsealed_events,
            "problem": self.problem,
            "location": self.location,
            "state_digest": self.state_digest,
            "notes": self.notes,
        }


@dataclass(frozen=True, slots=True)
class Capabilities:
    """How a backend differs from the others, declared rather than discovered.

    ``atomic_batches``: ``append_batch``/``submit_batch`` land all events or none, even with other writers
    (SQLite: one transaction; EVM: one transaction per event, so a concurrent writer can interleave and a failure
    can leave the first events landed - the error says how many). ``seals_by_time``: blocks are also sealed when
    ``block_interval`` passes, not only by size or ``seal()``. ``distributed``: several organisations' nodes hold
    the ledger (an EVM chain) rather than one file. ``storage_check``: ``verify`` also compares a second copy of the
    state (the contract's storage) with the replayed one.
    """

    atomic_batches: bool
    seals_by_time: bool
    distributed: bool
    storage_check: bool


@runtime_checkable
class LedgerBackend(Protocol):
    """What every ledger backend offers, and what each member guarantees.

    The state machine (``ledgerml.state``) alone decides what is accepted: a backend only stores events, seals
    them into validator-signed blocks over an RFC 9162 log (``ledgerml.ledger.sealing``) and reads them back.
    Every backend is a context manager (``with Ledger.open(url) as ledger:``) and passes the conformance suite.
    """

    capabilities: Capabilities
    """How this backend differs from the others (see :class:`Capabilities`)."""

    @property
    def ledger_id(self) -> str:
        """The 32-hex-digit id fixed by the genesis event; every event names it."""
        ...

    @property
    def size(self) -> int:
        """Number of events in the log (accepted events only; sealed or not)."""
        ...

    @property
    def validator(self) -> Identity | None:
        """The validator key this process seals with, or None (it can still append)."""
        ...

    def state(self) -> State:
        """The current state after every stored event, caught up with other writers. Treat it as read-only."""
        ...

    def next_nonce(self, address: str) -> int:
        """The nonce ``address`` must sign its next event with."""
        ...

    def append(self, event: Event) -> Receipt:
        """Store one signed event, or raise the state machine's specific ``RejectedEvent``; a rejection changes
        nothing (no row, no block, no transaction mined)."""
        ...

    def append_batch(self, events: Sequence[Event]) -> list[Receipt]:
        """Store signed events in order; all or nothing where ``capabilities.atomic_batches`` (else checked as a
        whole first, then sent one by one). A rejection names its batch index."""
        ...

    def submit(self, identity: Identity, payload: Payload) -> Receipt:
        """Sign ``payload`` as ``identity`` with its next nonce and append it (no nonce race across processes)."""
        ...

    def submit_batch(self, identity: Identity, payloads: Sequence[Payload]) -> list[Receipt]:
        """Sign and append several payloads as ``identity`` with consecutive nonces (see ``append_batch``)."""
        ...

    def get_event(self, ref: int | str) -> StoredEvent:
        """An event by sequence number or id (``sha256:<hex>``); ``NotFound`` if absent."""
        ...

    def events(self, start: int = 0, stop: int | None = None) -> Iterator[StoredEvent]:
        """Events with ``start <= seq < stop`` in log order (an empty window yields nothing)."""
        ...

    def block(self, height: int | None = None) -> BlockHeader:
        """The signed header at ``height`` (default: the latest); ``NotFound`` if absent."""
        ...

    def blocks(self, start: int = 0, stop: int | None = None) -> Iterator[BlockHeader]:
        """Headers with ``start <= height < stop``, in order."""
        ...

    def seal(self) -> BlockHeader | None:
        """Seal every pending event into a new block now (needs the validator key); None if nothing is pending."""
        ...

    def inclusion_proof(self, ref: int | str, height: int | None = None) -> InclusionProof:
        """Prove an event is in the log committed to by block ``height`` (default: latest); ``InvalidProof`` if
        that block does not cover it yet."""
        ...

    def consistency_proof(self, old_height: int, new_height: int | None = None) -> ConsistencyProof:
        """Prove block ``old_height``'s log is a prefix of block ``new_height``'s (default: latest)."""
        ...

    def verify(self, progress: ProgressCallback | None = None) -> VerifyReport:
        """Audit everything from genesis (signatures, canonical bodies, the state machine's replay, the chain of
        headers, proofs' roots); never raises for a bad ledger - the report names the first problem."""
        ...

    def close(self) -> None:
        """Release connections; the object is unusable afterwards."""
        ...

    def __enter__(self) -> LedgerBackend:
        """``with Ledger.open(url) as ledger:`` closes the ledger on leaving the block."""
        ...

    def __exit__(self, *exc: object) -> None:
        """Close the ledger."""
        ...


@dataclass(frozen=True)
class LedgerURL:
    """A parsed ledger URL: ``sqlite:///path/to/ledger.db?synchronous=full&block_size=1000``, or
    ``evm+http://127.0.0.1:8545?deployment=deployment.json`` (``path`` is then the node's RPC URL)."""

    scheme: str
    path: str
    options: dict[str, str]


def parse_ledger_url(url: str) -> LedgerURL:
    """Split a ledger URL into scheme, path and options; raise ``ConfigError`` on a bad one."""
    parsed = urlparse(url)
    if parsed.scheme in ("evm+http", "evm+https"):
        options = {key: values[-1] for key, values in parse_qs(parsed.query, keep_blank_values=True).items()}
        if not parsed.netloc:
            raise ConfigError(f"ledger URL {url!r} names no node: evm+http://HOST:PORT?deployment=FILE")
        rpc = f"{parsed.scheme[4:]}://{parsed.netloc}{parsed.path}"
        return LedgerURL(parsed.scheme, rpc, options)
    if parsed.scheme != "sqlite":
        raise ConfigError(
            f"unsupported ledger URL {url!r}: expected sqlite:///PATH or evm+http://HOST:PORT?deployment=FILE"
        )
    if parsed.netloc not in ("", "localhost"):
        raise ConfigError(f"sqlite URLs name a local file: sqlite:///PATH, got host {parsed.netloc!r}")
    if not parsed.path or parsed.path == "/":
        raise ConfigError(f"ledger URL {url!r} names no file")
    options = {key: values[-1] for key, values in parse_qs(parsed.query, keep_blank_values=True).items()}
    # SQLAlchemy's convention: sqlite:///relative/path.db and sqlite:////absolute/path.db
    return LedgerURL(parsed.scheme, parsed.path[1:], options)


def sqlite_url(path: str | os.PathLike[str], **options: object) -> str:
    """The ledger URL of a SQLite file, e.g. ``sqlite:////abs/ledger.db?synchronous=full``."""
    query = "&".join(f"{key}={value}" for key, value in options.items())
    return f"sqlite:///{os.fspath(path)}" + (f"?{query}" if query else "")


class Ledger:
    """Entry point: ``Ledger.create(url, ...)`` makes a new ledger, ``Ledger.open(url)`` opens one."""

    @staticmethod
    def open(url: str, *, validator: Identity | None = None, signers: Sequence[Identity] = ()) -> LedgerBackend:
        """Open an existing ledger. ``validator`` (a validator's key) lets this process cut blocks;
        ``signers`` are the keys an EVM ledger may send transactions with (``submit`` adds its identity)."""
        parsed = parse_ledger_url(url)
        if parsed.scheme.startswith("evm+"):
            from .evm.backend import EvmLedger

            deployment, options = _evm_options(parsed.options)
            return EvmLedger.open(parsed.path, deployment, validator=validator, signers=signers, **options)
        from .sqlite import SqliteLedger

        return SqliteLedger.open(parsed.path, validator=validator, **_sqlite_options(parsed.options))

    @staticmethod
    def create(url: str, *, admin: Identity, validator: Identity | None = None, name: str = "ledger") -> LedgerBackend:
        """Create a new ledger whose genesis event makes ``admin`` the admin and ``validator`` the validator.

        For ``evm+http://...?deployment=FILE`` this deploys the contracts and writes FILE.
        """
        parsed = parse_ledger_url(url)
        if parsed.scheme.startswith("evm+"):
            from .evm.backend import EvmLedger

            deployment, options = _evm_options(parsed.options)
            return EvmLedger.create(parsed.path, deployment, admin=admin, validator=validator, name=name, **options)
        from .sqlite import SqliteLedger

        return SqliteLedger.create(
            parsed.path, admin=admin, validator=validator or admin, name=name, **_sqlite_options(parsed.options)
        )


def _evm_options(options: dict[str, str]) -> tuple[str, dict[str, Any]]:
    known = {"deployment", "block_size", "precheck", "timeout"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(f"unknown ledger URL option(s) {unknown}; known: {sorted(known)}")
    if not options.get("deployment"):
        raise ConfigError("an EVM ledger URL names its deployment file: evm+http://HOST:PORT?deployment=FILE")
    result: dict[str, Any] = {}
    try:
        if "block_size" in options:
            result["block_size"] = int(options["block_size"])
        if "timeout" in options:
            result["timeout"] = float(options["timeout"])
    except ValueError as exc:
        raise ConfigError(f"bad ledger URL option: {exc}") from None
    if "precheck" in options:
        if options["precheck"] not in ("0", "1", "true", "false"):
            raise ConfigError("precheck is 1/true or 0/false")
        result["precheck"] = options["precheck"] in ("1", "true")
    return options["deployment"], result


def _sqlite_options(options: dict[str, str]) -> dict[str, Any]:
    known = {"synchronous", "block_size", "block_interval"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(f"unknown ledger URL option(s) {unknown}; known: {sorted(known)}")
    result: dict[str, Any] = {}
    if "synchronous" in options:
        result["synchronous"] = options["synchronous"]
    try:
        if "block_size" in options:
            result["block_size"] = int(options["block_size"])
        if "block_interval" in options:
            result["block_interval"] = float(options["block_interval"])
    except ValueError as exc:
        raise ConfigError(f"bad ledger URL option: {exc}") from None
    return result
