"""The reward token: minting (admin only) to an account or into a task's reward pool, transfers, and the
bookkeeping helpers the task rules use to move tokens between balances, stakes and pools.

Every token is always in exactly one place - an account balance, a task's reward pool, or a participant's
stake in a task - so the sum of all three always equals everything ever minted (tested with hypothesis).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field, model_validator

from ..errors import InsufficientFunds, UnknownReference
from ..events import AddressField, Event, Payload, event_kind
from ..state import State, rule
from ..types import Role
from ._gate import require_approval
from .core import require_role
from .evm import ZERO32, ZERO_ADDRESS, Call, evm_call, task_key

MAX_AMOUNT = 10**30
Amount = int


@event_kind("TokensMinted")
class TokensMinted(Payload):
    """The admin creates tokens, either on an account or in a task's reward pool."""

    amount: int = Field(gt=0, le=MAX_AMOUNT)
    to: AddressField | None = None
    task_id: str | None = None

    @model_validator(mode="after")
    def _one_target(self) -> TokensMinted:
        if (self.to is None) == (self.task_id is None):
            raise ValueError("mint either to an account ('to') or into a task's reward pool ('task_id')")
        return self


@event_kind("TokensTransferred")
class TokensTransferred(Payload):
    """A holder sends tokens to another account."""

    to: AddressField
    amount: int = Field(gt=0, le=MAX_AMOUNT)


@dataclass(frozen=True, slots=True)
class Supply:
    """Where all tokens are."""

    minted: int
    balances: int
    pools: int
    stakes: int

    @property
    def balanced(self) -> bool:
        """True when every minted token is in exactly one place."""
        return self.minted == self.balances + self.pools + self.stakes


def balance(state: State, address: str) -> int:
    """An account's balance."""
    value: int = state.get("balances", address, 0)
    return value


def pool(state: State, task_id: str) -> int:
    """A task's reward pool."""
    value: int = state.get("pools", task_id, 0)
    return value


def stake(state: State, task_id: str, address: str) -> int:
    """A participant's stake still held in a task."""
    value: int = state.get("stakes", (task_id, address), 0)
    return value


def supply(state: State) -> Supply:
    """Totals of minted tokens, balances, pools and stakes."""
    return Supply(
        state.get("meta", "minted", 0),
        sum(state.rows("balances").values()),
        sum(state.rows("pools").values()),
        sum(state.rows("stakes").values()),
    )


def _move(state: State, table: str, key: object, delta: int, what: str) -> None:
    current: int = state.get(table, key, 0)
    if current + delta < 0:
        raise InsufficientFunds(f"{what} holds {current}, cannot take {-delta}")
    if current + delta == 0:
        state.delete(table, key)
    else:
        state.put(table, key, current + delta)


def move_balance(state: State, address: str, delta: int) -> None:
    """Add ``delta`` (may be negative) to an account; ``InsufficientFunds`` below zero."""
    _move(state, "balances", address, delta, f"account {address}")


def move_pool(state: State, task_id: str, delta: int) -> None:
    """Add ``delta`` to a task's reward pool."""
    _move(state, "pools", task_id, delta, f"the reward pool of task {task_id!r}")


def move_stake(state: State, task_id: str, address: str, delta: int) -> None:
    """Add ``delta`` to a participant's stake in a task."""
    _move(state, "stakes", (task_id, address), delta, f"the stake of {address} in task {task_id!r}")


@rule(TokensMinted)
def _minted(state: State, event: Event, payload: TokensMinted) -> None:
    require_approval(state, TokensMinted.kind)
    require_role(state, event.actor, Role.ADMIN)
    if payload.task_id is not None:
        if state.get("tasks", payload.task_id) is None:
            raise UnknownReference(f"task {payload.task_id!r} does not exist")
        move_pool(state, payload.task_id, payload.amount)
    else:
        assert payload.to is not None
        move_balance(state, payload.to, payload.amount)
    state.put("meta", "minted", state.get("meta", "minted", 0) + payload.amount)


@rule(TokensTransferred)
def _transferred(state: State, event: Event, payload: TokensTransferred) -> None:
    move_balance(state, event.actor, -payload.amount)
    move_balance(state, payload.to, payload.amount)


# -- EVM encodings ----------------------------------------------------------------------------------


@evm_call(TokensMinted)
def _mint_call(event: Event, payload: TokensMinted, state: State) -> Call:
    to = ZERO_ADDRESS if payload.to is None else payload.to
    key = ZERO32 if payload.task_id is None else task_key(payload.task_id)
    return "mint", [event.nonce, to, key, payload.amount, event.body]


@evm_call(TokensTransferred)
def _transfer_call(event: Event, payload: TokensTransferred, state: State) -> Call:
    return "transfer_tokens", [event.nonce, payload.to, payload.amount, event.body]
