"""The ``LedgerBackend`` protocol every backend implements and its result types (construction: ``registry``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

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
