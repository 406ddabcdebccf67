"""Conformance step of the consensus vocabulary: the validator sets a sealing policy, changes it, and the
rejections: a trainer may not, and a change that changes nothing is refused."""

from __future__ import annotations

import pytest

from ledgerml.errors import InvalidTransition, Unauthorized
from ledgerml.vocab.consensus import SealingPolicySet, sealing_policy

KINDS = ("SealingPolicySet",)


def run(ledger, cast) -> None:  # type: ignore[no-untyped-def]
    """Fixed 1000/5 s, then the learned policy, then the burst policy; bob (a trainer) is refused; repeating a
    setting is refused."""
    fixed = SealingPolicySet(policy="fixed", block_size=1000, max_wait_ms=5000)
    ledger.submit(cast.admin, fixed)
    with pytest.raises(InvalidTransition):
        ledger.submit(cast.admin, fixed)
    learned = SealingPolicySet(policy="learned", block_size=1000, max_wait_ms=2000, block_cost=40000, note="trace")
    with pytest.raises(Unauthorized):
        ledger.submit(cast.bob, learned)
    ledger.submit(cast.admin, learned)
    record = sealing_policy(ledger.state())
    assert record is not None and record.policy == "learned" and record.block_cost == 40000
    burst = SealingPolicySet(policy="burst", block_size=1000, max_wait_ms=500, block_cost=10000)
    ledger.submit(cast.admin, burst)
    record = sealing_policy(ledger.state())
    assert record is not None and record.policy == "burst" and record.max_wait_ms == 500
