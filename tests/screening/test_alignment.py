"""The ``alignment`` detector (version 3): deterministic, order-free, scale-free; measured against the core
(the least suspicious majority) many attackers no longer mask each other; reversed changes pull back by their
amplification; correlated features count once; versions 1 and 2 are untouched (their pins are in
``test_consensus.py``)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ledgerml.federated.screening_alerts import detector_name
from ledgerml.screening import alignment, consensus
from ledgerml.screening.detector import DEFAULT_DETECTOR, DEFAULT_THRESHOLD, DETECTORS, RoundScores, score_round

Attack = Callable[[dict[str, np.ndarray]], np.ndarray]


def non_iid(rng: np.random.Generator, own: np.ndarray, common: np.ndarray) -> dict[str, np.ndarray]:
    """One round of non-IID changes: a shared direction, each participant's persistent own direction and
    noise, with norms varying by a factor of about two (as in ``test_consensus``)."""
    return {
        f"p{i}": (common + own[i] + 0.2 * rng.normal(size=common.size)) * (0.7 + 0.6 * (i % 3) / 2)
        for i in range(len(own))
    }


def federation(
    rounds: int, attack: dict[str, Attack] | None = None, seed: int = 0, detector: str = "alignment"
) -> list[RoundScores]:
    rng = np.random.default_rng(seed)
    own = 1.2 * rng.normal(size=(10, 60))
    common = rng.normal(size=60)
    history = None
    out = []
    for _ in range(rounds):
        deltas = non_iid(rng, own, common)
        for name, fn in (attack or {}).items():
            deltas[name] = fn(deltas)
        scored = score_round(deltas, history, detector)
        history = scored.history
        out.append(scored)
    return out


def test_version_three_is_declarable_and_names_its_version() -> None:
    assert DEFAULT_DETECTOR in DETECTORS and DETECTORS[:3] == ("history", "consensus", "alignment")
    assert detector_name("alignment") == "federation.alignment/v3"
    assert detector_name("consensus") == "federation.consensus/v2"


def test_deterministic_in_unit_interval_with_every_feature() -> None:
    a, b = federation(3), federation(3)
    for x, y in zip(a, b, strict=True):
        assert x.scores == y.scores and all(0.0 <= s < 1.0 for s in x.scores.values())
        assert set(next(iter(x.features.values()))) == set(alignment.FEATURES_V3) | {"evidence", "reputation"}


@settings(max_examples=10, deadline=None)
@given(st.permutations(list(range(10))), st.integers(0, 50))
def test_permutation_invariance(order: list[int], seed: int) -> None:
    deltas = non_iid(np.random.default_rng(seed), np.eye(10, 30) * 3, np.ones(30))
    deltas["p3"] = -4 * deltas["p3"]
    shuffled = {f"p{i}": deltas[f"p{i}"] for i in order}
    assert score_round(shuffled, None, "alignment").scores == score_round(deltas, None, "alignment").scores


@settings(max_examples=10, deadline=None)
@given(st.floats(1e-3, 1e3), st.integers(0, 50))
def test_scale_free(factor: float, seed: int) -> None:
    deltas = non_iid(np.random.default_rng(seed), np.eye(10, 30) * 3, np.ones(30))
    deltas["p3"] = -4 * deltas["p3"]
    scaled = {k: v * factor for k, v in deltas.items()}
    a, b = score_round(deltas, None, "alignment").scores, score_round(scaled, None, "alignment").scores
    assert all(abs(a[k] - b[k]) < 1e-6 for k in a)


def test_honest_non_iid_participants_score_below_the_threshold() -> None:
    for seed in range(3):
        for scored in federation(8, seed=seed):
            assert max(scored.scores.values()) < DEFAULT_THRESHOLD


@pytest.mark.parametrize("seed", range(3))
def test_forty_percent_reversed_at_four_times_are_flagged_from_the_first_round(seed: int) -> None:
    flippers = {f"p{i}" for i in range(4)}
    attack: dict[str, Attack] = {p: (lambda d, p=p: -4 * d[p]) for p in flippers}  # type: ignore[misc]
    for scored in federation(5, attack, seed):
        honest = max(s for k, s in scored.scores.items() if k not in flippers)
        assert min(scored.scores[k] for k in flippers) >= DEFAULT_THRESHOLD > honest


def test_the_core_unmasks_a_large_minority_pulling_against_the_others() -> None:
    """Four of ten each pull against the shared direction every round (what label flipping does): measured
    against everyone (version 2) they widen the spreads and drag the reference; against the core they stand out."""
    pullers = {f"p{i}" for i in range(4)}

    def pull(name: str) -> Attack:
        return lambda d: d[name] - 1.2 * sum(d[k] for k in d if k not in pullers) / 6

    attack = {p: pull(p) for p in pullers}
    v2, v3 = federation(6, attack, detector="consensus")[-1], federation(6, attack)[-1]
    margin = {
        name: min(s.scores[p] for p in pullers) - max(v for k, v in s.scores.items() if k not in pullers)
        for name, s in (("v2", v2), ("v3", v3))
    }
    assert margin["v3"] > margin["v2"] and margin["v3"] > 0
    assert min(v3.scores[p] for p in pullers) >= DEFAULT_THRESHOLD


def test_reversal_counts_typical_alignments() -> None:
    """Honest changes that align with the consensus by a small share of their length: one reversed and
    amplified k times pulls back by about k typical alignments; ``projection``'s unit (lengths) says far less."""
    rng = np.random.default_rng(3)
    common = np.zeros(200)
    common[0] = 1.0
    rows = np.stack([common + 4 * rng.normal(size=200) / np.sqrt(200) for _ in range(9)])
    rows = np.vstack([rows, -3 * rows[0]])
    groups = consensus.distinct_groups(rows, ((rows[:, None] - rows[None]) ** 2).sum(-1))
    mask = consensus._firsts(groups)
    refs = consensus.references(rows, groups)
    typical = float(np.median(np.linalg.norm(rows, axis=1)))
    out = alignment.reversal(rows, refs, mask, typical)
    in_lengths = float(-(rows[-1] @ refs[-1]) / np.linalg.norm(refs[-1]) / typical)  # projection's unit
    assert out[-1] > 5 * in_lengths > 5 > 1 > out[:-1].max()


def test_core_references_leave_out_the_row_and_ignore_rows_outside_the_core() -> None:
    rows = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-50.0, -50.0]])
    groups = np.arange(4)
    core = np.array([True, True, True, False])
    refs = consensus.core_references(rows, groups, core)
    centre, _ = consensus.geometric_median(rows[:3])
    assert np.allclose(refs[3], centre)  # outside the core: the core's median
    assert np.allclose(refs[:3], consensus.references(rows[:3], np.arange(3)))  # inside: without its own pull


def test_agreement_is_low_for_a_row_against_the_others_and_copies_do_not_agree_with_each_other() -> None:
    rng = np.random.default_rng(4)
    rows = np.abs(rng.normal(size=(6, 20)))
    rows = np.vstack([rows, -rows[:2].sum(axis=0), rows[5], rows[5]])
    out = alignment.agreement(rows)
    assert out[6] == out.max() > 0
    values, firsts = alignment.mean_cosines(rows)
    assert firsts.tolist() == [True] * 7 + [False, False]
    assert values[7] == values[5]  # a copy's mean leaves out its own group


def test_correlated_features_count_once() -> None:
    row = {name: 0.0 for name in alignment.FEATURES_V3}
    row.update(angle=3.25, projection=3.25, reversal=3.25)
    assert alignment.combine_groups(row) == pytest.approx(3.0)
    assert consensus.combine(row) == pytest.approx(3.0 * np.sqrt(3))
    row.update(norm=4.25)
    assert alignment.combine_groups(row) == pytest.approx(5.0)
    assert {f for group in alignment.GROUPS for f in group} == set(alignment.FEATURES_V3)


@settings(max_examples=25, deadline=None)
@given(st.integers(3, 8), st.integers(0, 10_000), st.lists(st.integers(0, 3), min_size=3, max_size=3))
@example(4, 0, [3, 1, 0])  # the reversed p0's reputation keeps it, the group's first copy, out of the core
def test_scores_stay_finite_with_copies_zeros_and_histories(n: int, seed: int, kinds: list[int]) -> None:
    """Rounds of copies, zero changes and reversed outliers, with histories that put a group's first copy
    outside the core: every score is a number in [0, 1)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=12)
    history = None
    for kind in kinds:
        deltas = {f"p{i}": base + 0.3 * rng.normal(size=12) for i in range(n)}
        if kind == 1:
            deltas = {p: base.copy() for p in deltas}  # everyone sends one update
        elif kind == 2:
            deltas = {p: (np.zeros(12) if i % 2 else d) for i, (p, d) in enumerate(deltas.items())}
        elif kind == 3:
            deltas["p0"] = -20 * base
        scored = score_round(deltas, history, "alignment")
        history = scored.history
        assert all(np.isfinite(s) and 0.0 <= s < 1.0 for s in scored.scores.values())
