"""Block-cutting policies: their rules directly, and replays of small traces on the real SQLite ledger."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledgerml.consensus.cutting import (
    EDGES_MS,
    FixedPolicy,
    IdleGapPolicy,
    LearnedPolicy,
    Pending,
    residual_waits,
)
from ledgerml.consensus.replay import FixedCosts, replay
from ledgerml.consensus.traces import Trace, mainnet_trace, onoff_trace
from ledgerml.errors import ConfigError
from ledgerml.vocab.consensus import sealing_policy
from ledgerml.workflows.cutting_replay import open_replay_ledger

from ..conftest import make_identity

VALIDATOR, INDEXER = make_identity("validator", 8101), make_identity("indexer", 8102)


def test_fixed_policy_is_the_ledgers_size_and_interval_rule() -> None:
    policy = FixedPolicy(block_size=100, interval_ms=5000)
    assert policy.deadline(Pending(3, 1000, 1200, 0)) == 5000  # interval counted from the last block
    assert policy.deadline(Pending(1, 9000, 9000, 0)) == 9000  # interval passed already: seal at the write


def test_idle_gap_policy_seals_after_a_quiet_gap_or_the_longest_wait() -> None:
    policy = IdleGapPolicy(block_size=100, idle_gap_ms=50, max_wait_ms=2000)
    assert policy.deadline(Pending(3, 1000, 1200, 0)) == 1250
    assert policy.deadline(Pending(3, 1000, 2990, 0)) == 3000


def test_learned_policy_seals_at_the_end_of_a_burst() -> None:
    # Prepare: gaps of ~1 ms inside bursts of 20, then 10 s between bursts
    policy = LearnedPolicy(block_size=1000, block_cost=50_000, max_wait_ms=60_000)
    for _ in range(30):
        for _ in range(19):
            policy.observe(1.0)
        policy.observe(10_000.0)
    # Execute / Assert: 5 pending events are not worth a block at once (the next one is ~1 ms away) but are
    # a few ms after the last arrival; 200 pending are worth one immediately
    wait = policy.seal_after(5)
    assert 1.0 < wait < 20.0
    assert policy.seal_after(200) == 0.0
    assert policy.deadline(Pending(5, 100.0, 104.0, 0.0)) == pytest.approx(104.0 + wait)


@given(st.lists(st.floats(min_value=0.0, max_value=1e6), min_size=1, max_size=50))
def test_residual_waits_are_never_negative_and_infinite_past_the_data(gaps: list[float]) -> None:
    weights = np.zeros(len(EDGES_MS) - 1)
    for gap in gaps:
        weights[min(int(np.searchsorted(EDGES_MS, gap, side="right")) - 1, len(weights) - 1)] += 1
    waits = residual_waits(weights)
    last = int(np.nonzero(weights)[0].max())
    assert np.all(waits[: last + 1] >= 0) and np.all(np.isinf(waits[last + 1 :]))


BURSTS = Trace("bursts", tuple((60_000.0 * i, 8) for i in range(6)))


@pytest.mark.parametrize(
    "policy",
    [FixedPolicy(1000, 1000.0), IdleGapPolicy(1000, 50.0, 2000.0), LearnedPolicy(1000, 100_000.0, 2000.0)],
    ids=["fixed", "adaptive", "learned"],
)
def test_replay_seals_every_event_on_the_real_ledger_and_verify_replays_the_policy(
    tmp_path: Path, policy: FixedPolicy | IdleGapPolicy | LearnedPolicy
) -> None:
    with open_replay_ledger(tmp_path / "ledger.db", VALIDATOR, INDEXER) as ledger:
        before = ledger.block().height
        result = replay(ledger, BURSTS, policy, validator=VALIDATOR, submitter=INDEXER)
        # every trace event is in a block; the ledger holds exactly the blocks the policy cut (+1 for the
        # block that seals the SealingPolicySet event)
        assert result.events == BURSTS.events == 48
        assert ledger.block().height == before + 1 + result.blocks
        assert ledger.block().log_size == ledger.size
        assert all(latency >= 0 for latency in [result.p50_ms, result.p99_ms])
        record = sealing_policy(ledger.state())
        assert record is not None and record.policy == policy.name and record.set_by == VALIDATOR.address
        assert ledger.verify().ok


def test_fixed_interval_splits_each_burst_and_the_learned_policy_does_not(tmp_path: Path) -> None:
    results = {}
    for policy in (FixedPolicy(1000, 1000.0), LearnedPolicy(1000, 100_000.0, 2000.0)):
        with open_replay_ledger(tmp_path / f"{policy.name}.db", VALIDATOR, INDEXER) as ledger:
            # simulated time (8 ms per submit): live, a loaded machine can stretch a burst past the 1 s interval
            run = replay(ledger, BURSTS, policy, validator=VALIDATOR, submitter=INDEXER, costs=FixedCosts())
            results[policy.name] = run.blocks
    # fixed: the first event of a burst comes after a quiet minute and is sealed alone, the rest at the timer
    # (but the first burst: the block sealing the policy event was just cut, so it is one block)
    assert results["fixed"] == 2 * len(BURSTS.releases) - 1
    # learned: the first events, before it knows the gaps, may go alone; then one block per burst
    assert results["learned"] <= len(BURSTS.releases) + 2


def test_mainnet_trace_reads_block_rows(tmp_path: Path) -> None:
    path = tmp_path / "blocks.csv"
    path.write_text("number,timestamp,transactions\n1,100,30\n2,112,0\n3,124,9\n")
    trace = mainnet_trace(path, thin=3)
    assert trace.releases == ((0.0, 10), (24_000.0, 3))
    path.write_text("number,timestamp,transactions\n1,100,30\n2,90,3\n")
    with pytest.raises(ConfigError, match="must not decrease"):
        mainnet_trace(path)
    with pytest.raises(ConfigError, match="thin"):
        mainnet_trace(path, thin=0)


def test_onoff_trace_is_reproducible() -> None:
    assert onoff_trace(seed=3) == onoff_trace(seed=3)
    assert onoff_trace(seed=3).events > 0 and not math.isnan(onoff_trace(seed=3).releases[-1][0])
