"""Pure translation between ledger events and calls of the Ledger contract, and of reverts back to errors.

No web3 here: an event becomes ``(function name, arguments)`` for ``contracts/Ledger.vy``; a revert reason
``"<ErrorClass>: reason"`` becomes the same exception class the embedded ledger raises.
"""

from __future__ import annotations

from typing import Any

from ... import errors
from ..._keccak import keccak256
from ...events import MAX_EVENT_BYTES, Event
from ...state import MAX_RECORDS, State
from ...types import Role
from ...vocab.core import DatasetRegistered, LedgerCreated, ModelRegistered, RoleGranted, RoleRevoked
from ...vocab.rewards import RewardPaid, StakeSlashed, TaskSettled
from ...vocab.tasks import ParticipantJoined, RoundFinalized, TaskCreated, UpdateCommitted, task
from ...vocab.tokens import TokensMinted, TokensTransferred

MAX_BODY = MAX_EVENT_BYTES
"""Largest event body the contract takes (``MAX_BODY`` in Ledger.vy): every backend's ``events.MAX_EVENT_BYTES``."""
MAX_LIST = 512
"""Most participants one round can name (``MAX_LIST`` in Ledger.vy)."""
ZERO_ADDRESS = "0x" + "00" * 20
ZERO32 = bytes(32)
ROLE_BITS = {role: 1 << index for index, role in enumerate(Role)}
"""Role -> bit in the contract's role masks, in ``Role`` order (admin=1, validator=2, ...)."""

Call = tuple[str, list[Any]]


def digest32(digest: str) -> bytes:
    """``sha256:<hex>`` as the 32 raw bytes the contract stores."""
    return bytes.fromhex(digest.removeprefix("sha256:"))


def task_key(task_id: str) -> bytes:
    """The contract's key of a task: keccak-256 of its id."""
    return keccak256(task_id.encode())


def dataset_records(payload: DatasetRegistered) -> int:
    """The record count the contract stores for a dataset: ``metadata["records"]``, 0 when absent.

    A value the state machine refuses (not an integer, negative, above ``state.MAX_RECORDS``) raises its
    ``MalformedEvent`` here, so no call is made.
    """
    records = payload.metadata.get("records")
    if records is None:
        return 0
    if type(records) is not int or not 0 <= records <= MAX_RECORDS:
        raise errors.MalformedEvent(f"metadata.records must be an integer from 0 to {MAX_RECORDS}, got {records!r}")
    return records


def _address_order(address: str) -> int:
    return int(address, 16)


def event_call(event: Event, state: State) -> Call:
    """The contract call that records ``event``; ``state`` (before it) supplies what the call must name.

    Raises the embedded ledger's error for what no contract call can express (a second genesis, a payment
    for someone without a contribution).
    """
    payload = event.typed_payload()
    n = event.nonce
    body = event.body
    if len(body) > MAX_BODY:
        raise errors.MalformedEvent(f"the event body is {len(body)} bytes; the EVM ledger takes at most {MAX_BODY}")
    if isinstance(payload, LedgerCreated):
        raise errors.DuplicateRegistration("the ledger exists already: LedgerCreated is only valid as the first event")
    if isinstance(payload, RoleGranted):
        return "grant_role", [n, payload.subject, ROLE_BITS[payload.role], body]
    if isinstance(payload, RoleRevoked):
        return "revoke_role", [n, payload.subject, ROLE_BITS[payload.role], body]
    if isinstance(payload, DatasetRegistered):
        return "register_dataset", [
            n,
            digest32(payload.dataset_id),
            [digest32(p) for p in payload.parents],
            dataset_records(payload),
            body,
        ]
    if isinstance(payload, ModelRegistered):
        return "register_model", [
            n,
            digest32(payload.model_id),
            [digest32(p) for p in payload.parents],
            [digest32(d) for d in payload.datasets],
            body,
        ]
    if isinstance(payload, TaskCreated):
        config = (ZERO_ADDRESS, payload.min_participants, payload.reward_pool, payload.min_stake, payload.slash_amount)
        return "create_task", [
            n,
            task_key(payload.task_id),
            digest32(payload.initial_model),
            payload.rounds,
            config,
            ZERO32 if payload.validation_dataset is None else digest32(payload.validation_dataset),
            [keccak256(prefix.encode()) for prefix in payload.slash_on],
            body,
        ]
    if isinstance(payload, ParticipantJoined):
        return "join", [n, task_key(payload.task_id), [digest32(d) for d in payload.datasets], payload.stake, body]
    if isinstance(payload, UpdateCommitted):
        return "commit_update", [
            n,
            task_key(payload.task_id),
            payload.round,
            digest32(payload.update_digest),
            digest32(payload.base_digest),
            payload.num_examples,
            body,
        ]
    if isinstance(payload, RoundFinalized):
        rejected = sorted(payload.rejected, key=lambda r: _address_order(r.participant))
        if len(payload.accepted) > MAX_LIST or len(rejected) > MAX_LIST:
            raise errors.MalformedEvent(f"a round on the EVM ledger names at most {MAX_LIST} participants per list")
        return "finalize_round", [
            n,
            task_key(payload.task_id),
            payload.round,
            payload.status == "ok",
            ZERO32 if payload.aggregate_digest is None else digest32(payload.aggregate_digest),
            sorted(payload.accepted, key=_address_order),
            [r.participant for r in rejected],
            [keccak256(r.reason.encode()) for r in rejected],
            body,
        ]
    if isinstance(payload, RewardPaid):
        extra = set(payload.payments) - set(payload.contributions)
        if extra or any(amount <= 0 for amount in payload.payments.values()):
            raise errors.InvalidTransition(
                f"payments {dict(payload.payments)} are not what the contributions give: every payment is "
                "positive and goes to a contributor"
            )
        who = sorted(payload.contributions, key=_address_order)
        return "pay_rewards", [
            n,
            task_key(payload.task_id),
            payload.round,
            who,
            [payload.contributions[a] for a in who],
            [payload.payments.get(a, 0) for a in who],
            body,
        ]
    if isinstance(payload, StakeSlashed):
        reason = payload.reason.encode()
        record = task(state, payload.task_id)
        prefixes = [] if record is None else [p for p in record.slash_on if payload.reason.startswith(p)]
        prefix_length = len(prefixes[0].encode()) if prefixes else len(reason)
        return "slash", [
            n,
            task_key(payload.task_id),
            payload.round,
            payload.participant,
            payload.amount,
            reason,
            prefix_length,
            digest32(payload.update_digest),
            body,
        ]
    if isinstance(payload, TaskSettled):
        return "settle", [n, task_key(payload.task_id), body]
    if isinstance(payload, TokensMinted):
        to = ZERO_ADDRESS if payload.to is None else payload.to
        key = ZERO32 if payload.task_id is None else task_key(payload.task_id)
        return "mint", [n, to, key, payload.amount, body]
    if isinstance(payload, TokensTransferred):
        return "transfer_tokens", [n, payload.to, payload.amount, body]
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
