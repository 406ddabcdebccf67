"""Synthetic transaction graphs with known laundering patterns among ordinary activity, in the manner of IBM's
AMLworld: fan-in, fan-out, peel chains, cycles and scatter-gather. For tests, demos and the node end-to-end test.

Columns: ``from, to, value`` (ether), ``timestamp`` (seconds), ``gas``, ``contract_creation`` (bool).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

PATTERNS = ("fan_in", "fan_out", "peel_chain", "cycle", "scatter_gather")


@dataclass
class SyntheticLedger:
    """Generated transactions and, for every illicit account, the pattern it took part in."""

    transactions: pd.DataFrame
    illicit: dict[str, str]
    accounts: list[str]


def _address(rng: np.random.Generator) -> str:
    return "0x" + rng.bytes(20).hex()


def generate(
    ordinary_accounts: int = 300,
    ordinary_transactions: int = 3000,
    groups_per_pattern: int = 3,
    seed: int = 0,
    start: int = 1_700_000_000,
) -> SyntheticLedger:
    """Ordinary accounts trade at random (log-normal values, spread over 30 days); each pattern is planted
    ``groups_per_pattern`` times with its own fresh accounts, compressed in time as laundering usually is."""
    rng = np.random.default_rng(seed)
    ordinary = [_address(rng) for _ in range(ordinary_accounts)]
    rows: list[tuple[str, str, float, int, int, bool]] = []
    span = 30 * 86400
    for _ in range(ordinary_transactions):
        a, b = rng.choice(ordinary, size=2, replace=False)
        rows.append(
            (
                str(a),
                str(b),
                float(rng.lognormal(-1.0, 1.2)),
                start + int(rng.integers(0, span)),
                21000,
                bool(rng.random() < 0.01),
            )
        )
    illicit: dict[str, str] = {}

    def burst(t0: int) -> int:
        return t0 + int(rng.integers(0, 3600))

    for pattern in PATTERNS:
        for _ in range(groups_per_pattern):
            t0 = start + int(rng.integers(0, span - 86400))
            amount = float(rng.uniform(20, 200))
            if pattern == "fan_in":
                sink = _address(rng)
                sources = [_address(rng) for _ in range(int(rng.integers(8, 15)))]
                rows += [(s, sink, amount / len(sources), burst(t0), 21000, False) for s in sources]
                illicit |= {a: pattern for a in [sink, *sources]}
            elif pattern == "fan_out":
                source = _address(rng)
                targets = [_address(rng) for _ in range(int(rng.integers(8, 15)))]
                rows += [(source, t, amount / len(targets), burst(t0), 21000, False) for t in targets]
                illicit |= {a: pattern for a in [source, *targets]}
            elif pattern == "peel_chain":
                chain = [_address(rng) for _ in range(int(rng.integers(6, 10)))]
                value = amount
                for i, (a, b) in enumerate(itertools.pairwise(chain)):
                    value *= float(rng.uniform(0.85, 0.95))
                    rows.append((a, b, value, t0 + 600 * i, 21000, False))
                    rows.append((a, str(rng.choice(ordinary)), value * 0.05, t0 + 600 * i + 60, 21000, False))
                illicit |= {a: pattern for a in chain}
            elif pattern == "cycle":
                ring = [_address(rng) for _ in range(int(rng.integers(3, 6)))]
                for lap in range(3):
                    for i, a in enumerate(ring):
                        rows.append(
                            (
                                a,
                                ring[(i + 1) % len(ring)],
                                amount * 0.99**i,
                                t0 + 900 * (lap * len(ring) + i),
                                21000,
                                False,
                            )
                        )
                illicit |= {a: pattern for a in ring}
            else:
                source, sink = _address(rng), _address(rng)
                mules = [_address(rng) for _ in range(int(rng.integers(5, 10)))]
                rows += [(source, m, amount / len(mules), burst(t0), 21000, False) for m in mules]
                rows += [(m, sink, 0.97 * amount / len(mules), burst(t0 + 3600), 21000, False) for m in mules]
                illicit |= {a: pattern for a in [source, sink, *mules]}
    frame = pd.DataFrame(rows, columns=["from", "to", "value", "timestamp", "gas", "contract_creation"])
    frame = frame.sort_values("timestamp", kind="stable").reset_index(drop=True)
    return SyntheticLedger(frame, illicit, ordinary + sorted(illicit))
