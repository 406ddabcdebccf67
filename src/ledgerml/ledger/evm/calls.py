"""Pure translation between ledger events and calls of the Ledger contract, and of reverts back to errors.

No web3 here: an event becomes ``(function name, arguments)`` for ``contracts/Ledger.vy``; a revert reason
``"<ErrorClass>: reason"`` becomes the same exception class the embedded ledger raises.
"""

from __future__ import annotations

from ... import errors
from ...events import MAX_EVENT_BYTES, Event
from ...state import GENESIS_KIND, State
from ...vocab.evm import Call, encoder

MAX_BODY = MAX_EVENT_BYTES
"""Largest event body the contract takes (``MAX_BODY`` in Ledger.vy): every backend's ``events.MAX_EVENT_BYTES``."""


def event_call(event: Event, state: State) -> Call:
    """The contract call that records ``event``; ``state`` (before it) supplies what the call must name.

    The call comes from the encoder registered beside the event's kind (``ledgerml.vocab.evm``). Raises the
    embedded ledger's error for what no contract call can express (a second genesis, a payment for someone
    without a contribution).
    """
    payload = event.typed_payload()
    if len(event.body) > MAX_BODY:
        raise errors.MalformedEvent(
            f"the event body is {len(event.body)} bytes; the EVM ledger takes at most {MAX_BODY}"
        )
    encode = encoder(event.kind)
    if encode is not None:
        return encode(event, payload, state)
    if event.kind == GENESIS_KIND:
        raise errors.DuplicateRegistration("the ledger exists already: LedgerCreated is only valid as the first event")
    raise errors.UnknownEventKind(f"the EVM ledger has no contract call for event kind {event.kind!r}")


_ERRORS: dict[str, type[errors.RejectedEvent]] = {
    cls.__name__: cls
    for cls in (
        errors.ReplayedNonce,
        errors.NonceGap,
        errors.Unauthorized,
        errors.MalformedEvent,
        errors.DuplicateRegistration,
        errors.UnknownReference,
        errors.InvalidTransition,
        errors.InsufficientFunds,
    )
}


def revert_error(reason: str) -> errors.RejectedEvent:
    """The exception a contract revert reason stands for (``"Unauthorized: ..."`` -> ``Unauthorized``)."""
    text = reason.removeprefix("execution reverted: ").removeprefix("execution reverted")
    name, _, message = text.partition(": ")
    cls = _ERRORS.get(name.strip())
    if cls is None:
        return errors.RejectedEvent(f"the ledger contract rejected the transaction: {text or 'no reason given'}")
    return cls(f"{message} (ledger contract)")
