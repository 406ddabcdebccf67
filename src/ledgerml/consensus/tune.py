"""``consensus tune``: compare QBFT timeout policies in simulation and recommend Besu QBFT genesis parameters for
the stated network and this machine's measured signature cost."""

from __future__ import annotations

import functools
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError
from .latency import REGIONS, LatencyModel
from .qbft import Faults, Simulation, TimeoutPolicy
from .timeouts import BanditTimeout, FixedTimeout, JacobsonKarels

ROUND_CHANGE_BUDGET = 0.01
"""The fault-free round-change rate a recommended ``requesttimeoutseconds`` may cause at most."""


def measure_signature_cost(samples: int = 200) -> tuple[float, float]:
    """Milliseconds to sign and to recover one secp256k1 signature over a digest on this machine."""
    from ..identity import Identity, recover_signer

    signer = Identity.from_private_key("bench", os.urandom(32))
    digests = [os.urandom(32) for _ in range(samples)]
    began = time.perf_counter()
    signatures = [signer.sign_digest(d) for d in digests]
    signed = time.perf_counter()
    for digest, signature in zip(digests, signatures, strict=True):
        recover_signer(digest, signature)
    done = time.perf_counter()
    return 1000.0 * (signed - began) / samples, 1000.0 * (done - signed) / samples


@dataclass(frozen=True)
class Conditions:
    """What one comparison simulates."""

    validators: int = 7
    block_period_s: int = 5
    request_timeout_s: int = 10
    heights: int = 500
    crash_every: int = 50
    crash_heights: int = 1
    sign_ms: float = 0.05
    verify_ms: float = 0.05
    seed: int = 0

    def check(self) -> None:
        """``ConfigError`` for settings the simulation cannot run."""
        if not 4 <= self.validators <= 64:
            raise ConfigError(f"validators must be 4..64, got {self.validators}")
        if not (1 <= self.block_period_s <= 60 and 1 <= self.request_timeout_s <= 600):
            raise ConfigError("block period (1..60) and request timeout (1..600) are whole seconds (Besu's units)")
        if not 20 <= self.heights <= 100_000:
            raise ConfigError(f"heights must be 20..100000, got {self.heights}")
        if not (0 <= self.crash_every <= self.heights and 1 <= self.crash_heights <= 1000):
            raise ConfigError("crash_every must be 0 (no crashes) .. heights, and crash_heights 1..1000")


POLICIES: dict[str, Callable[[Conditions, int], TimeoutPolicy]] = {
    "fixed": lambda c, i: FixedTimeout(1000.0 * c.request_timeout_s),
    "jacobson-karels": lambda c, i: JacobsonKarels(initial_ms=1000.0 * c.request_timeout_s),
    "learned": lambda c, i: BanditTimeout(
        seed=c.seed * 1000 + i, estimator=JacobsonKarels(initial_ms=1000.0 * c.request_timeout_s)
    ),
}


def simulate(conditions: Conditions, policy: Callable[[int], TimeoutPolicy], faults: Faults) -> dict[str, float]:
    """p50/p99 time between commits and the fault-free round-change rate of one run (safety checked)."""
    n = conditions.validators
    sim = Simulation(
        n,
        [policy(i) for i in range(n)],
        LatencyModel(),
        block_period_ms=1000.0 * conditions.block_period_s,
        sign_ms=conditions.sign_ms,
        verify_ms=conditions.verify_ms,
        faults=faults,
        seed=conditions.seed,
    )
    outcome = sim.run(conditions.heights)
    forks = [h for h, blocks in outcome.committed.items() if len(blocks) > 1]
    if forks:
        raise RuntimeError(f"safety violated at heights {forks[:5]}")  # a simulator bug, never an input's
    latencies = np.array(outcome.latencies_ms)
    return {
        "p50_ms": float(np.percentile(latencies, 50)),
        "p99_ms": float(np.percentile(latencies, 99)),
        "fault_free_round_change_rate": outcome.fault_free_round_change_rate(),
    }


def compare(conditions: Conditions) -> dict[str, dict[str, float]]:
    """Every policy under crashes (``crash_every``) and fault-free: crash p50/p99, fault-free round-change rate."""
    conditions.check()
    crashes = Faults(crash_every=conditions.crash_every, crash_heights=conditions.crash_heights)
    results = {}
    for name, make in POLICIES.items():
        each = functools.partial(make, conditions)
        faulty, clean = simulate(conditions, each, crashes), simulate(conditions, each, Faults())
        results[name] = {
            **faulty,
            "fault_free_round_change_rate": clean["fault_free_round_change_rate"],
            "fault_free_p99_ms": clean["p99_ms"],
        }
    return results


def _fixed(timeout_ms: float, node: int) -> TimeoutPolicy:
    return FixedTimeout(timeout_ms)


def recommend_timeout(conditions: Conditions) -> int:
    """The smallest whole-second ``requesttimeoutseconds`` whose simulated fault-free round-change rate is within
    ``ROUND_CHANGE_BUDGET`` (a fixed timeout's crash latency grows with it, so smallest is best)."""
    for seconds in range(conditions.block_period_s + 1, 10 * conditions.block_period_s + 61):
        rate = simulate(conditions, functools.partial(_fixed, 1000.0 * seconds), Faults())
        if rate["fault_free_round_change_rate"] <= ROUND_CHANGE_BUDGET:
            return seconds
    raise ConfigError("no request timeout keeps fault-free round changes within budget")  # pragma: no cover


def tune(conditions: Conditions) -> dict[str, Any]:
    """The comparison, the recommended genesis ``qbft`` block and every assumption, as one JSON document."""
    results = compare(conditions)
    timeout = recommend_timeout(conditions)
    fixed, learned = results["fixed"]["p99_ms"], results["learned"]["p99_ms"]
    return {
        "genesis": {
            "config": {
                "qbft": {
                    "blockperiodseconds": conditions.block_period_s,
                    "requesttimeoutseconds": timeout,
                    "epochlength": 30000,
                }
            }
        },
        "simulated": results,
        "learned_vs_fixed_p99": learned / fixed - 1.0 if fixed else math.nan,
        "conditions": {**conditions.__dict__, "regions": list(REGIONS), "jitter": LatencyModel().jitter},
        "note": "discrete-event simulation of QBFT, not a Besu network; Besu takes one whole-second request "
        "timeout, so the adaptive and learned timeouts are reported for comparison only",
    }
