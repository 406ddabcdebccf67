"""The learned burst-cutting policy: its maths as pure functions, the sealer deciding exactly as the rule, the
storage-free ``SealerLedger`` cutting exactly where the SQLite ledger does, and ``verify`` replaying the policy."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerml.consensus.cutting import (
    EDGES_MS,
    BurstPolicy,
    FixedPolicy,
    LearnedPolicy,
    Pending,
    rent_deadline,
    stopping_rates,
)
from ledgerml.consensus.replay import FixedCosts, SealerLedger, replay, simulate
from ledgerml.consensus.sealer import policy_event, policy_from_record
from ledgerml.consensus.traces import Trace, onoff_trace
from ledgerml.vocab.consensus import SealingPolicyRecord, sealing_policy
from ledgerml.workflows.cutting_replay import open_replay_ledger

from ..conftest import make_identity

VALIDATOR, INDEXER = make_identity("validator", 8121), make_identity("indexer", 8122)
GAPS = st.lists(st.floats(min_value=0.0, max_value=1e6), min_size=1, max_size=60)


def _weights(gaps: list[float]) -> np.ndarray:
    weights = np.zeros(len(EDGES_MS) - 1)
    for gap in gaps:
        weights[min(int(np.searchsorted(EDGES_MS, gap, side="right")) - 1, len(weights) - 1)] += 1
    return weights


def _bursty(policy: BurstPolicy, bursts: int = 30) -> BurstPolicy:
    """Gaps of 5 ms inside bursts of 40 events, 20 s between bursts."""
    for _ in range(bursts):
        for _ in range(39):
            policy.observe(5.0)
        policy.observe(20_000.0)
    return policy


@given(GAPS)
def test_stopping_rates_are_positive_within_the_data_and_zero_past_it(gaps: list[float]) -> None:
    weights = _weights(gaps)
    rates = stopping_rates(weights)
    last = int(np.nonzero(weights)[0].max())
    assert np.all(rates[: last + 1] > 0) and np.all(rates[last + 1 :] == 0)


@settings(max_examples=50)
@given(GAPS, st.integers(1, 500), st.integers(1, 500))
def test_more_pending_events_are_sealed_no_later(gaps: list[float], fewer: int, more: int) -> None:
    policy = BurstPolicy(block_cost=3000.0)
    for gap in gaps:
        policy.observe(gap)
    fewer, more = sorted((fewer, more))
    assert policy.seal_after(more) <= policy.seal_after(fewer)


@given(st.lists(st.floats(min_value=0.0, max_value=1e7), min_size=1, max_size=50), st.floats(1.0, 1e9))
def test_the_rent_deadline_is_when_the_pending_waits_add_up_to_a_block(arrivals: list[float], cost: float) -> None:
    due = rent_deadline(len(arrivals), sum(arrivals) / len(arrivals), cost)
    assert sum(due - a for a in arrivals) == pytest.approx(cost, rel=1e-6, abs=1e-3)
    assert rent_deadline(0, 0.0, cost) == math.inf


def test_burst_policy_waits_through_a_burst_and_seals_soon_after_it() -> None:
    policy = _bursty(BurstPolicy(block_cost=3000.0, max_wait_ms=60_000.0))
    # inside a burst the next event is ~5 ms away: 10 pending are not worth a block at the arrival, or 5 ms on
    wait = policy.seal_after(10)
    assert 5.0 < wait < 50.0
    # a lone event after the quiet: no block of its own at once (the fixed rule's first block of a burst)
    assert policy.seal_after(1) > 5.0
    # a long burst is cut by the waiting its pending events have spent: 30 events at 5 ms, mean age 72.5 ms
    pending = Pending(30, 0.0, 145.0, -1e9, 72.5)
    assert policy.deadline(pending) == pytest.approx(min(145.0 + policy.seal_after(30), 72.5 + 3000.0 / 30))


def test_the_record_rebuilds_the_burst_policy_and_keeps_what_it_learned() -> None:
    event = policy_event(BurstPolicy(13, 4000.0, 700.0))
    assert event.policy == "burst" and (event.block_size, event.block_cost, event.max_wait_ms) == (13, 4000, 700)
    record = SealingPolicyRecord(event.policy, event.block_size, event.max_wait_ms, 0, event.block_cost, "0x0", 0)
    rebuilt = policy_from_record(record)
    assert isinstance(rebuilt, BurstPolicy) and policy_event(rebuilt) == event


def _by_rule(trace: Trace, policy: BurstPolicy | FixedPolicy | LearnedPolicy, costs: FixedCosts) -> list[int]:
    """The log sizes sealed when the policy's own deadline rule decides on the simulated costs (the policy event
    arrives at one submit's cost and is sealed at once, as the replay records it)."""
    last_seal = last_arrival = costs.submit_ms
    now, arrivals, size, cuts = last_seal + costs.seal_ms, [], 0, []

    def view() -> Pending:
        return Pending(len(arrivals), arrivals[0], last_arrival, last_seal, sum(arrivals) / len(arrivals))

    for released, count in trace.releases:
        for _ in range(count):
            while arrivals and (due := policy.deadline(view())) <= max(now, released):
                now = max(now, due)
                cuts.append(size)
                arrivals, last_seal, now = [], now, now + costs.seal_ms
            now = max(now, released) + costs.submit_ms
            if math.isfinite(last_arrival):
                policy.observe(now - last_arrival)
            size, last_arrival = size + 1, now
            arrivals.append(now)
            if policy.deadline(view()) <= now:
                cuts.append(size)
                arrivals, last_seal, now = [], now, now + costs.seal_ms
    if arrivals:
        cuts.append(size)
    return cuts


def _sealed_sizes(trace: Trace, policy: BurstPolicy | FixedPolicy | LearnedPolicy, costs: FixedCosts) -> list[int]:
    ledger = SealerLedger()
    sizes: list[int] = []
    cut = ledger._cut

    def record(log_size: int) -> None:
        sizes.append(log_size)
        cut(log_size)

    ledger._cut = record  # type: ignore[method-assign]
    replay(ledger, trace, policy, validator=VALIDATOR, submitter=INDEXER, costs=costs)
    return [s - 1 for s in sizes[1:]]  # minus the policy event and the block that sealed it


@pytest.mark.parametrize(
    "policy",
    [BurstPolicy(1000, 3000.0, 400.0), BurstPolicy(1000, 30_000.0, 60_000.0), FixedPolicy(1000, 300.0)],
    ids=["burst-capped", "burst", "fixed"],
)
def test_the_sealer_cuts_exactly_where_the_policy_rule_does(policy: BurstPolicy | FixedPolicy) -> None:
    trace, costs = onoff_trace(seed=5, bursts=6, quiet_ms=5000.0), FixedCosts(8.0, 2.0)
    expected = _by_rule(trace, copy.deepcopy(policy), costs)
    assert len(expected) >= 6 and _sealed_sizes(trace, copy.deepcopy(policy), costs) == expected


SMALL = onoff_trace(seed=2, bursts=3, mean_burst=15, quiet_ms=3000.0)


@pytest.mark.parametrize(
    "policy",
    [BurstPolicy(1000, 2000.0, 300.0), LearnedPolicy(1000, 20_000.0, 2000.0), FixedPolicy(5, 250.0)],
    ids=["burst", "learned", "fixed"],
)
def test_the_storage_free_ledger_cuts_where_the_sqlite_ledger_does(
    tmp_path: Path, policy: BurstPolicy | LearnedPolicy | FixedPolicy
) -> None:
    costs = FixedCosts(8.0, 2.0)
    fast = simulate(SMALL, copy.deepcopy(policy), costs)
    with open_replay_ledger(tmp_path / "l.db", VALIDATOR, INDEXER) as ledger:
        real = replay(ledger, SMALL, copy.deepcopy(policy), validator=VALIDATOR, submitter=INDEXER, costs=costs)
        record = sealing_policy(ledger.state())
        assert record is not None and record.policy == policy.name
        assert ledger.block().log_size == ledger.size and ledger.verify().ok  # verify replays the policy event
    assert real.clock == fast.clock == "simulated" and real.events == fast.events == SMALL.events
    assert (real.blocks, real.latencies_ms) == (fast.blocks, fast.latencies_ms)


def test_simulated_time_is_the_same_on_every_run() -> None:
    policy = BurstPolicy(1000, 3000.0, 500.0)
    first, second = simulate(SMALL, copy.deepcopy(policy)), simulate(SMALL, copy.deepcopy(policy))
    assert first.to_dict() == second.to_dict() and first.submit_ms == 8.0


def test_a_live_replay_reports_its_measured_submit_times(tmp_path: Path) -> None:
    with open_replay_ledger(tmp_path / "l.db", VALIDATOR, INDEXER) as ledger:
        result = replay(ledger, SMALL, BurstPolicy(1000, 3000.0, 500.0), validator=VALIDATOR, submitter=INDEXER)
    assert result.clock == "live" and result.events == SMALL.events and result.blocks >= 1
    assert 0 < result.submit_ms <= result.submit_p90_ms * 10 and math.isfinite(result.p99_ms)
