"""Signing a batch of one actor's events at one time, a dry run on a copy of the state, and the real append."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ConfigError
from ..events import Event, Payload, now_ms, sign_event
from ..identity import Identity
from ..ledger.base import LedgerBackend, Receipt
from ..state import State, apply, decode_state, encode_state, next_nonce

PLACEHOLDER = "sha256:" + "00" * 32
"""A digest stand-in for the dry run before the artifacts it names exist (no rule reads artifacts)."""


def require_embedded(ledger: LedgerBackend) -> None:
    """Refuse a distributed (EVM) ledger: access events are kept on the embedded ledger only."""
    if ledger.capabilities.distributed:
        raise ConfigError(
            "access events (keys, grants, the access log) are kept on the embedded SQLite ledger only: the EVM "
            "contract has no room for them (see docs/access.md)"
        )


def sign_all(state: State, ledger_id: str, actor: Identity, payloads: Sequence[Payload], time: int) -> list[Event]:
    """``payloads`` signed by ``actor`` with consecutive nonces from its next one, all at ``time``."""
    first = next_nonce(state, actor.address)
    return [sign_event(actor, ledger_id, p, first + i, time_ms=time) for i, p in enumerate(payloads)]


def dry_run(ledger: LedgerBackend, actor: Identity, payloads: Sequence[Payload], time: int | None = None) -> State:
    """Apply ``payloads`` to a copy of the current state: the exact rejection the append would give, or that
    state after them."""
    state = ledger.state()
    copy = decode_state(encode_state(state))
    for index, event in enumerate(sign_all(state, ledger.ledger_id, actor, payloads, time or now_ms())):
        try:
            apply(copy, event)
        except Exception as exc:
            if len(payloads) > 1 and hasattr(exc, "in_batch"):
                raise exc.in_batch(index) from None
            raise
    return copy


def append_all(ledger: LedgerBackend, actor: Identity, payloads: Sequence[Payload], time: int) -> list[Receipt]:
    """Sign ``payloads`` at ``time`` and append them all or none."""
    events = sign_all(ledger.state(), ledger.ledger_id, actor, payloads, time)
    return ledger.append_batch(events) if len(events) > 1 else [ledger.append(events[0])]


__all__ = ["PLACEHOLDER", "append_all", "dry_run", "require_embedded", "sign_all"]
