"""The QBFT simulation: safety (one block per height), liveness under crashes, and what each timeout does."""

from __future__ import annotations

import numpy as np
import pytest

from ledgerml.consensus.latency import LatencyModel
from ledgerml.consensus.qbft import Faults, Simulation
from ledgerml.consensus.timeouts import BanditTimeout, FixedTimeout, JacobsonKarels
from ledgerml.consensus.tune import Conditions, recommend_timeout


def run(n: int, make, faults: Faults, heights: int = 120, seed: int = 0):  # type: ignore[no-untyped-def]
    sim = Simulation(
        n,
        [make(i) for i in range(n)],
        LatencyModel(),
        block_period_ms=1000.0,
        sign_ms=0.05,
        verify_ms=0.05,
        faults=faults,
        seed=seed,
    )
    return sim.run(heights)


POLICIES = {
    "fixed": lambda i: FixedTimeout(3000.0),
    "jacobson-karels": lambda i: JacobsonKarels(initial_ms=3000.0),
    "learned": lambda i: BanditTimeout(seed=i, estimator=JacobsonKarels(initial_ms=3000.0)),
}


@pytest.mark.parametrize("n", [4, 7, 16])
@pytest.mark.parametrize("name", sorted(POLICIES))
def test_no_two_blocks_are_committed_at_one_height(n: int, name: str) -> None:
    # crashes every 10 heights lasting 3, slow proposers, and an aggressive learned timeout: many round changes
    faults = Faults(crash_every=10, crash_heights=3, slow_every=7, slow_ms=2500.0)
    outcome = run(n, POLICIES[name], faults, heights=60 if n == 16 else 120, seed=n)
    assert all(len(blocks) == 1 for blocks in outcome.committed.values())
    assert len(outcome.latencies_ms) == (60 if n == 16 else 120)  # live: every height decided
    assert sum(outcome.round_changes) > 0  # the faults did force round changes (the check can fail)


def test_safety_holds_when_timeouts_are_far_too_short() -> None:
    outcome = run(7, lambda i: FixedTimeout(1050.0 + 40 * i), Faults(crash_every=5), heights=80, seed=3)
    assert all(len(blocks) == 1 for blocks in outcome.committed.values())


def test_fault_free_runs_change_no_round_with_a_generous_fixed_timeout() -> None:
    outcome = run(7, POLICIES["fixed"], Faults())
    assert outcome.fault_free_round_change_rate() == 0.0
    assert 1000.0 < float(np.median(outcome.latencies_ms)) < 1500.0  # block period + a few WAN hops


def test_a_crashed_proposer_costs_a_fixed_timeout_more_than_an_adaptive_one() -> None:
    faults = Faults(crash_every=20)
    fixed = run(7, POLICIES["fixed"], faults)
    adaptive = run(7, POLICIES["jacobson-karels"], faults)
    crash_heights = [i for i, f in enumerate(fixed.faulty) if f]
    assert crash_heights and all(fixed.round_changes[i] >= 1 for i in crash_heights)
    assert max(adaptive.latencies_ms) < max(fixed.latencies_ms)


def test_recommended_timeout_is_a_whole_second_above_the_block_period() -> None:
    timeout = recommend_timeout(Conditions(validators=4, block_period_s=1, heights=40))
    assert isinstance(timeout, int) and timeout >= 2
