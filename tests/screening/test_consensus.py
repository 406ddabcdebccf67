"""The ``consensus`` detector (version 2): deterministic, order-free, scale-free; copies cannot pull its
reference; reversed, copied and persistently opposing changes score high; ``history`` (version 1) is unchanged."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerml.screening import consensus
from ledgerml.screening.detector import DEFAULT_THRESHOLD, RoundScores, score_round

Attack = Callable[[dict[str, np.ndarray]], np.ndarray]


def non_iid(rng: np.random.Generator, own: np.ndarray, common: np.ndarray) -> dict[str, np.ndarray]:
    """One round of ten non-IID changes: a shared direction plus each participant's persistent own direction
    (its data) and a little noise, with norms varying by a factor of about two."""
    return {
        f"p{i}": (common + own[i] + 0.2 * rng.normal(size=common.size)) * (0.7 + 0.6 * (i % 3) / 2)
        for i in range(len(own))
    }


def federation(rounds: int, attack: dict[str, Attack] | None = None, seed: int = 0) -> list[RoundScores]:
    """Score ``rounds`` non-IID rounds with ``consensus``; ``attack`` replaces some participants' changes."""
    rng = np.random.default_rng(seed)
    own = 1.2 * rng.normal(size=(10, 60))
    common = rng.normal(size=60)
    history = None
    out = []
    for _ in range(rounds):
        deltas = non_iid(rng, own, common)
        for name, fn in (attack or {}).items():
            deltas[name] = fn(deltas)
        scored = score_round(deltas, history, "consensus")
        history = scored.history
        out.append(scored)
    return out


def attackers_above_honest_below(scored: RoundScores, attackers: set[str]) -> bool:
    honest = max(s for k, s in scored.scores.items() if k not in attackers)
    return min(scored.scores[k] for k in attackers) >= DEFAULT_THRESHOLD > honest


def test_deterministic_in_unit_interval_with_every_feature() -> None:
    first, second = federation(4), federation(4)
    for a, b in zip(first, second, strict=True):
        assert a.scores == b.scores
        assert all(0 <= s < 1 for s in a.scores.values())
        assert set(next(iter(a.features.values()))) >= set(consensus.FEATURES) | {"evidence", "reputation"}


@settings(max_examples=20, deadline=None)
@given(st.permutations(list(range(10))), st.integers(0, 2**16))
def test_permutation_invariance(order: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    deltas = non_iid(rng, rng.normal(size=(10, 30)), rng.normal(size=30))
    deltas["p0"] = -4 * deltas["p0"]
    names = sorted(deltas)
    shuffled = {names[i]: deltas[names[i]] for i in order}
    assert score_round(shuffled, None, "consensus").scores == score_round(deltas, None, "consensus").scores


@settings(max_examples=15, deadline=None)
@given(st.floats(1e-3, 1e3), st.integers(0, 2**16))
def test_scale_free(factor: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    deltas = non_iid(rng, rng.normal(size=(10, 30)), rng.normal(size=30))
    scaled = {k: v * factor for k, v in deltas.items()}
    a, b = score_round(deltas, None, "consensus").scores, score_round(scaled, None, "consensus").scores
    assert all(abs(a[k] - b[k]) < 1e-6 for k in a)


def test_honest_non_iid_participants_score_below_the_threshold() -> None:
    for seed in range(3):
        for scored in federation(8, seed=seed):
            assert max(scored.scores.values()) < DEFAULT_THRESHOLD


@pytest.mark.parametrize("seed", range(4))
def test_sign_flip_at_four_times_never_gets_under_the_threshold(seed: int) -> None:
    flippers = {f"p{i}" for i in range(4)}  # 40 %
    attack: dict[str, Attack] = {p: (lambda d, p=p: -4 * d[p]) for p in flippers}  # type: ignore[misc]
    for scored in federation(6, attack, seed):
        assert attackers_above_honest_below(scored, flippers)


def test_identical_copies_count_once_in_the_reference() -> None:
    sybils = {f"p{i}" for i in range(4)}  # four identical reversed changes: 40 %
    attack: dict[str, Attack] = {p: (lambda d: -2 * d["p9"]) for p in sybils}
    for scored in federation(5, attack):
        assert attackers_above_honest_below(scored, sybils)
        assert min(scored.features[p]["similarity"] for p in sybils) > 10


def test_groups_and_leave_one_out_references() -> None:
    rows = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    groups = consensus.distinct_groups(rows, ((rows[:, None] - rows[None]) ** 2).sum(-1))
    assert groups.tolist() == [0, 0, 2, 3]
    refs = consensus.references(rows, groups)
    assert refs[0] @ rows[0] < 1e-9 and refs[1] @ rows[1] < 1e-9  # a copy's reference leaves out its group
    assert refs[2] @ rows[2] < refs[3] @ rows[2]  # each row's reference is without its own pull


def test_the_geometric_median_resists_a_long_minority() -> None:
    rng = np.random.default_rng(1)
    honest = rng.normal(loc=1.0, scale=0.1, size=(6, 20))
    rows = np.vstack([honest, -40 * honest[:4]])
    centre, _ = consensus.geometric_median(rows)
    assert float(centre @ honest.mean(axis=0)) > 0 > float(np.median(rows, axis=0) @ honest.mean(axis=0)) - 1e9
    assert np.linalg.norm(centre - honest.mean(axis=0)) < np.linalg.norm(rows.mean(axis=0) - honest.mean(axis=0))


def test_a_participant_persistently_pulling_against_the_others_drifts_and_is_flagged() -> None:
    """Normal length, normal noise, but a part of each change points against the shared direction, every round
    (what label flipping does): ``drift`` grows with the cumulative change and the reputation carries it."""
    attack: dict[str, Attack] = {"p4": lambda d: d["p4"] - 1.5 * sum(d[k] for k in d if k != "p4") / 9}
    scored = federation(8, attack)
    assert scored[-1].features["p4"]["drift"] > max(
        scored[-1].features[k]["drift"] for k in scored[-1].features if k != "p4"
    )
    assert scored[-1].scores["p4"] >= DEFAULT_THRESHOLD > max(s for k, s in scored[-1].scores.items() if k != "p4")


def test_a_history_of_the_other_detector_or_model_size_starts_afresh() -> None:
    deltas = non_iid(np.random.default_rng(2), np.ones((10, 30)), np.ones(30))
    v1 = score_round(deltas, None, "history").history
    assert score_round(deltas, v1, "consensus").scores == score_round(deltas, None, "consensus").scores
    v2 = score_round(deltas, None, "consensus").history
    assert score_round(deltas, v2, "history").scores == score_round(deltas, None, "history").scores
    bigger = {k: np.concatenate([v, v]) for k, v in deltas.items()}
    assert score_round(bigger, v2, "consensus").scores == score_round(bigger, None, "consensus").scores


def test_version_one_is_unchanged() -> None:
    """Tasks that declared ``detector = "history"`` replay with exactly the maths they were recorded with."""
    rng = np.random.default_rng(0)
    common = rng.normal(size=20)
    deltas = {f"p{i}": common + 0.3 * rng.normal(size=20) for i in range(6)}
    deltas["p0"] = -4 * deltas["p0"]
    scores = score_round(deltas).scores
    assert score_round(deltas, None, "history").scores == scores
    assert [round(scores[f"p{i}"], 6) for i in range(6)] == PINNED_V1


PINNED_V1 = [0.817174, 0.040037, 0.100669, 0.013988, 0.006309, 0.026237]
"""``history``'s scores of the round above, computed with the version-1 code as committed before version 2."""


def test_version_two_is_unchanged() -> None:
    """Tasks that declared ``detector = "consensus"`` replay with exactly the maths they were recorded with,
    history included (four rounds: drift, consistency and reputation all count)."""
    attack: dict[str, Attack] = {
        "p0": lambda d: -4 * d["p0"],
        "p1": lambda d: d["p1"] - 1.5 * sum(d[k] for k in d if k != "p1") / 9,
    }
    last = federation(4, attack, seed=5)[-1]
    assert [round(last.scores[f"p{i}"], 6) for i in range(10)] == PINNED_V2
    assert [round(last.features["p1"][k], 6) for k in ("drift", "consistency", "projection")] == PINNED_V2_P1
    assert set(last.features["p1"]) == set(consensus.FEATURES) | {"evidence", "reputation"}


PINNED_V2 = [0.774821, 0.652997, 0.145308, 0.082149, 0.056669, 0.087078, 0.155445, 0.0, 0.07961, 0.119857]
PINNED_V2_P1 = [5.725191, 0.429334, 1.171721]
"""``consensus``'s scores and three features of the rounds above, computed with the version-2 code as
committed before version 3."""


def test_an_unknown_detector_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown screening detector"):
        score_round({"a": np.ones(3)}, None, "magic")
