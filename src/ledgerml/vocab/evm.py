"""How each event kind becomes a call of the Ledger contract: a registry the vocabularies fill beside their kinds.

Pure data and functions (no web3): an encoder turns ``(event, typed payload, state before it)`` into
``(function name, arguments)`` for ``ledger/evm/contracts/Ledger.vy``. A kind that never becomes a call is
declared with :func:`not_on_chain` and a reason. A completeness test requires one or the other for every kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from .._keccak import keccak256
from ..events import Event, Payload
from ..state import State
from ..types import Role

Call = tuple[str, list[Any]]
Encoder = Callable[[Event, Any, State], Call]
PayloadT = TypeVar("PayloadT", bound=Payload)

MAX_LIST = 512
"""Most participants one round can name (``MAX_LIST`` in Ledger.vy)."""
ZERO_ADDRESS = "0x" + "00" * 20
ZERO32 = bytes(32)
ROLE_BITS = {role: 1 << index for index, role in enumerate(Role)}
"""Role -> bit in the contract's role masks, in ``Role`` order (admin=1, validator=2, ...)."""

GOVERNANCE = "governance."
"""Prefix of a function of the Governance contract (``contracts/Governance.vy``), not of the Ledger contract."""


@dataclass(frozen=True, slots=True)
class LedgerCall:
    """A Ledger contract call passed as ABI-encoded bytes inside a governance call (a proposal's exact call): the
    backend encodes it with the Ledger contract's ABI."""

    function: str
    args: list[Any]


_ENCODERS: dict[str, Encoder] = {}
_NOT_ON_CHAIN: dict[str, str] = {}


def evm_call(payload_type: type[PayloadT]) -> Callable[[Callable[[Event, PayloadT, State], Call]], Encoder]:
    """Register the encoder of one kind's contract call (beside the kind, in its vocabulary module)."""

    def register(fn: Callable[[Event, PayloadT, State], Call]) -> Encoder:
        if payload_type.kind in _ENCODERS or payload_type.kind in _NOT_ON_CHAIN:
            raise ValueError(f"an EVM encoding for {payload_type.kind!r} is registered already")
        _ENCODERS[payload_type.kind] = fn
        return fn

    return register


def not_on_chain(payload_type: type[Payload], reason: str) -> None:
    """Declare that ``payload_type`` never becomes a contract call, and why."""
    if payload_type.kind in _ENCODERS or payload_type.kind in _NOT_ON_CHAIN:
        raise ValueError(f"an EVM encoding for {payload_type.kind!r} is registered already")
    _NOT_ON_CHAIN[payload_type.kind] = reason


def encoder(kind: str) -> Encoder | None:
    """The encoder registered for ``kind``, if any."""
    return _ENCODERS.get(kind)


def encoders() -> dict[str, Encoder]:
    """Every kind with a contract call."""
    return dict(_ENCODERS)


def off_chain_kinds() -> dict[str, str]:
    """Every kind declared :func:`not_on_chain`, with its reason."""
    return dict(_NOT_ON_CHAIN)


def digest32(digest: str) -> bytes:
    """``sha256:<hex>`` as the 32 raw bytes the contract stores."""
    return bytes.fromhex(digest.removeprefix("sha256:"))


def task_key(task_id: str) -> bytes:
    """The contract's key of a task: keccak-256 of its id."""
    return keccak256(task_id.encode())


U64 = 2**64 - 1


def pack_commit(nonce: int, round_: int, num_examples: int, time: int, signature: bytes) -> tuple[int, bytes, bytes]:
    """The compact ``commit_update`` words: ``nonce | round << 64 | num_examples << 128 | time << 192 | v << 248``
    and the signature's ``r`` and ``s``; ``MalformedEvent`` for a value the 64-bit fields cannot hold."""
    from ..errors import MalformedEvent

    if not all(0 <= value <= U64 for value in (nonce, round_, num_examples)) or not 0 <= time < 2**56:
        raise MalformedEvent("an UpdateCommitted on the EVM ledger needs nonce, round and num_examples below 2**64")
    if len(signature) != 65:
        raise MalformedEvent("an UpdateCommitted on the EVM ledger needs a 65-byte signature")
    packed = nonce | round_ << 64 | num_examples << 128 | time << 192 | signature[64] << 248
    return packed, signature[:32], signature[32:64]


def unpack_commit(packed: int, r: bytes, s: bytes) -> tuple[int, int, int, int, bytes]:
    """``(nonce, round, num_examples, time, signature)`` from :func:`pack_commit`'s words."""
    fields = [(packed >> shift) & U64 for shift in (0, 64, 128)]
    return fields[0], fields[1], fields[2], (packed >> 192) & (2**56 - 1), bytes(r) + bytes(s) + bytes([packed >> 248])


def address_order(address: str) -> int:
    """The order the contract wants address lists in (ascending as numbers)."""
    return int(address, 16)


__all__ = [
    "GOVERNANCE",
    "MAX_LIST",
    "ROLE_BITS",
    "ZERO32",
    "ZERO_ADDRESS",
    "Call",
    "Encoder",
    "LedgerCall",
    "address_order",
    "digest32",
    "encoder",
    "encoders",
    "evm_call",
    "not_on_chain",
    "off_chain_kinds",
    "pack_commit",
    "task_key",
    "unpack_commit",
]
