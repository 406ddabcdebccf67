"""The ``separation`` detector (version 4): version 3's evidence and ranking; a round's separated upper
minority is lifted to the flag level, a round without one is scored exactly as version 3 scores it; version 3
itself is pinned (it replays bit-identically for the tasks that declared it)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerml.federated.screening_alerts import detector_name
from ledgerml.screening import calibrated
from ledgerml.screening.detector import DEFAULT_DETECTOR, DEFAULT_THRESHOLD, SCALE, score_round
from ledgerml.screening.policy import check_policy

from .test_alignment import federation


def test_version_three_is_unchanged() -> None:
    """Tasks that declared ``detector = "alignment"`` replay with the maths they were recorded with (pinned with
    the version-3 code as committed before version 4; four rounds, history included)."""
    attack = {"p0": lambda d: -4 * d["p0"], "p1": lambda d: d["p1"] - 1.5 * sum(d[k] for k in d if k != "p1") / 9}
    last = federation(4, attack, seed=5)[-1]
    assert [round(last.scores[f"p{i}"], 6) for i in range(10)] == PINNED_V3
    assert [round(last.features["p1"][k], 6) for k in ("agreement", "reversal", "drift")] == [5.078524, 0.416, 5.725191]


PINNED_V3 = [0.747848, 0.644006, 0.226011, 0.004599, 0.010779, 0.176145, 0.050633, 0.092868, 0.174078, 0.063129]


def test_version_four_is_the_default_and_names_its_version() -> None:
    assert DEFAULT_DETECTOR == check_policy({"action": "exclude"}).detector == "separation"
    assert detector_name("separation") == "federation.separation/v4"


def test_a_separated_minority_is_found_and_a_tail_is_not() -> None:
    cluster = np.array([3.1, 3.3, 3.0, 3.4, 0.2, 0.5, 0.1, 0.4, 0.3, 0.0])
    mask, separation = calibrated.separated_cluster(cluster)
    assert mask.tolist() == [True] * 4 + [False] * 6 and separation >= calibrated.MIN_SEPARATION
    tail = np.array([4.4, 3.1, 2.1, 1.1, 0.7, 0.7, 0.7, 0.2, 0.1, 0.1])  # a clean non-IID round's shape
    assert not calibrated.separated_cluster(tail)[0].any()
    low = np.array([1.5, 1.6, 1.4, 0.0, 0.1, 0.0, 0.1, 0.0, 0.0, 0.1])  # separated, but below the floor
    assert not calibrated.separated_cluster(low)[0].any()
    majority = np.array([3.0] * 5 + [0.0] * 5)  # half or more is never the attackers
    assert not calibrated.separated_cluster(majority)[0].any()
    lone = np.array([2.5, 0.9, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0])  # one unusual honest participant
    assert not calibrated.separated_cluster(lone)[0].any()


def test_the_lift_puts_the_cluster_exactly_at_the_flag_level_and_keeps_the_order() -> None:
    evidence = np.array([3.1, 3.3, 3.0, 3.4, 0.2, 0.5, 0.1, 0.4, 0.3, 0.0])
    values, factors, separation = calibrated.lifted(evidence, SCALE)
    assert values[2] == SCALE and values[:4].min() == SCALE and np.all(values[4:] == evidence[4:])
    assert np.all(factors[:4] > 1) and np.all(factors[4:] == 1) and np.all(separation[4:] == 0)
    assert np.array_equal(np.argsort(-values, kind="stable"), np.argsort(-evidence, kind="stable"))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0.0, 20.0), min_size=0, max_size=25))
def test_the_lift_never_lowers_evidence_nor_reorders(values: list[float]) -> None:
    evidence = np.array(values, dtype=np.float64)
    lifted, factors, _ = calibrated.lifted(evidence, SCALE)
    assert np.all(lifted >= evidence) and np.all(factors >= 1)
    order = np.argsort(-evidence, kind="stable")
    assert np.all(np.diff(lifted[order]) <= 0)  # still sorted the same way
    lifted_count = int((factors > 1).sum())
    assert lifted_count == 0 or calibrated.MIN_CLUSTER <= lifted_count <= (len(values) - 1) // 2


def rounds(detector: str, pull: float) -> list[dict[str, float]]:
    """Four IID rounds of ten; four pull weakly against the shared direction (version 3 ranks them first but
    scores them under the threshold)."""
    common = np.random.default_rng(0).normal(size=60)
    rng = np.random.default_rng(1)
    history, out = None, []
    for _ in range(4):
        deltas = {f"p{i}": common + 0.5 * rng.normal(size=60) for i in range(10)}
        for i in range(4):
            deltas[f"p{i}"] = deltas[f"p{i}"] - pull * common
        scored = score_round(deltas, history, detector)
        history = scored.history
        out.append(scored.scores)
    return out


def test_a_perfectly_ranked_cluster_under_the_threshold_is_flagged() -> None:
    pullers = [f"p{i}" for i in range(4)]
    v3, v4 = rounds("alignment", 0.5), rounds("separation", 0.5)
    for before, after in zip(v3[1:], v4[1:], strict=True):
        assert max(before[p] for p in pullers) < DEFAULT_THRESHOLD  # version 3 misses them
        honest_after = {k: v for k, v in after.items() if k not in pullers}
        assert min(after[p] for p in pullers) >= DEFAULT_THRESHOLD > max(honest_after.values())
        assert honest_after == {k: v for k, v in before.items() if k not in pullers}


@pytest.mark.parametrize("seed", range(3))
def test_clean_non_iid_rounds_score_as_version_three(seed: int) -> None:
    for v3, v4 in zip(federation(4, seed=seed), federation(4, seed=seed, detector="separation"), strict=True):
        assert v4.scores == v3.scores and max(v4.scores.values()) < DEFAULT_THRESHOLD
        assert all(f["lift"] == 1.0 and f["separation"] == 0.0 for f in v4.features.values())
