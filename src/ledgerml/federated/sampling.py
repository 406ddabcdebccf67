"""Per-round client sampling that an auditor can check: the round's sample is fixed by the ledger alone.

A task created with ``clients_per_round = k`` trains, in round ``r``, the ``k`` eligible participants that come
first in the order of ``sha256("ledgerml-sample/1|" + task key + "|" + r + "|" + address)`` (ties by address).
The task key is the id of the task's ``TaskCreated`` event, so the order is fixed once the task exists and
differs per round. Eligible in round ``r``: the participants whose ``ParticipantJoined`` precedes the round's
first commitment in the log (every joined participant while the round has none yet). The coordinator refuses
commitments from outside the sample and the round auditor flags any it accepted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from ..ledger.base import LedgerBackend
from ..types import Address
from ..vocab.tasks import ParticipantRecord, TaskRecord, commits, participants

NOT_SAMPLED = "not sampled for round "
"""Prefix of the rejection reason of a commitment from a participant outside the round's sample."""
SAMPLE_DOMAIN = b"ledgerml-sample/1"
"""Domain tag of the sampling hash (a change of the order is a new tag)."""


def sample_score(task_key: str, round_: int, address: str) -> bytes:
    """The participant's place in the round's order: a SHA-256 of the domain, task key, round and address."""
    parts = (SAMPLE_DOMAIN, task_key.encode(), str(round_).encode(), address.encode())
    return hashlib.sha256(b"|".join(parts)).digest()


def choose(task_key: str, round_: int, eligible: Iterable[str], k: int) -> list[str]:
    """The ``k`` eligible participants first in the round's order (all of them if fewer), sorted by address."""
    if k < 1:
        raise ValueError("a sample has at least one participant")
    order = sorted(set(eligible), key=lambda a: (sample_score(task_key, round_, a), a))
    return sorted(order[:k])


def not_sampled_reason(round_: int) -> str:
    """The rejection reason of a commitment from outside the round's sample."""
    return f"{NOT_SAMPLED}{round_}: outside the round's keyed-hash sample (federated.sampling)"


class RoundSampler:
    """The sample of each round of one task, read from a ledger (join positions are cached: they never change)."""

    def __init__(self, ledger: LedgerBackend, record: TaskRecord) -> None:
        self.ledger = ledger
        self.record = record
        self._joined_at: dict[str, int] = {}

    @property
    def samples(self) -> bool:
        """True if the task samples its participants (``clients_per_round`` set)."""
        return self.record.clients_per_round > 0

    def _join_seq(self, address: str) -> int:
        if address not in self._joined_at:
            joined: ParticipantRecord = self.ledger.state().get("participants", (self.record.task_id, address))
            self._joined_at[address] = self.ledger.get_event(joined.joined_by).seq
        return self._joined_at[address]

    def eligible(self, round_: int) -> list[Address]:
        """Participants eligible in ``round_``: joined before its first commitment (all joined, if none yet)."""
        state = self.ledger.state()
        joined = participants(state, self.record.task_id)
        committed = commits(state, self.record.task_id, round_)
        if not committed:
            return joined
        first = min(self.ledger.get_event(c.event_id).seq for c in committed.values())
        return [p for p in joined if self._join_seq(p) < first]

    def sample(self, round_: int) -> frozenset[Address] | None:
        """The participants sampled in ``round_``, or None when the task trains every participant."""
        if not self.samples:
            return None
        chosen = choose(self.record.created_by, round_, self.eligible(round_), self.record.clients_per_round)
        return frozenset(Address(a) for a in chosen)


__all__ = ["NOT_SAMPLED", "RoundSampler", "choose", "not_sampled_reason", "sample_score"]
