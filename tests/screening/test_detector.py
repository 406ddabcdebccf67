"""The history detector's maths: deterministic, order-free, scale-free; the attacks it must see score high."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerml.screening.detector import DEFAULT_THRESHOLD, FEATURES, score_round


def honest_round(rng: np.random.Generator, n: int = 8, d: int = 50, spread: float = 0.3) -> dict[str, np.ndarray]:
    """``n`` honest changes: one common direction plus individual noise."""
    common = rng.normal(size=d)
    return {f"p{i}": common + spread * rng.normal(size=d) for i in range(n)}


def rounds(history_rounds: int, attack: dict[str, object] | None = None, seed: int = 0):  # type: ignore[no-untyped-def]
    """Score ``history_rounds`` rounds; ``attack`` maps a participant to a function of the honest changes."""
    rng = np.random.default_rng(seed)
    history = None
    out = []
    for _ in range(history_rounds):
        deltas = honest_round(rng)
        for name, fn in (attack or {}).items():
            deltas[name] = fn(deltas)  # type: ignore[operator]
        scored = score_round(deltas, history)
        history = scored.history
        out.append(scored)
    return out


def test_scores_are_deterministic_and_in_unit_interval() -> None:
    first, second = rounds(4), rounds(4)
    for a, b in zip(first, second, strict=True):
        assert a.scores == b.scores
        assert all(0 <= s < 1 for s in a.scores.values())
        assert set(next(iter(a.features.values()))) >= set(FEATURES)


@settings(max_examples=25)
@given(st.permutations(list(range(8))), st.integers(0, 2**16))
def test_permutation_invariance(order: list[int], seed: int) -> None:
    deltas = honest_round(np.random.default_rng(seed))
    deltas["p0"] = -4 * deltas["p0"]
    names = sorted(deltas)
    shuffled = {names[i]: deltas[names[i]] for i in order}
    assert score_round(shuffled).scores == score_round(deltas).scores


@settings(max_examples=15)
@given(st.floats(1e-3, 1e3), st.integers(0, 2**16))
def test_scale_free(factor: float, seed: int) -> None:
    deltas = honest_round(np.random.default_rng(seed))
    scaled = {k: v * factor for k, v in deltas.items()}
    a, b = score_round(deltas).scores, score_round(scaled).scores
    assert all(abs(a[k] - b[k]) < 1e-6 for k in a)


def test_honest_participants_score_below_the_threshold() -> None:
    for scored in rounds(6, seed=3):
        assert max(scored.scores.values()) < DEFAULT_THRESHOLD


def test_sybils_sending_one_update_score_high() -> None:
    copy = {"p0": lambda d: d["p1"] * 0 + d["p7"], "p1": lambda d: d["p7"]}  # p0, p1 copy p7's change
    last = rounds(3, copy)[-1]
    honest = [s for k, s in last.scores.items() if k not in ("p0", "p1", "p7")]
    assert min(last.scores["p0"], last.scores["p1"]) >= DEFAULT_THRESHOLD > max(honest)
    assert last.features["p0"]["similarity"] > 10


def test_sign_flip_free_ride_and_scaling_score_high() -> None:
    attack = {"p0": lambda d: -4 * d["p0"], "p1": lambda d: 0 * d["p1"], "p2": lambda d: 10 * d["p2"]}
    for scored in rounds(3, attack):
        honest = max(s for k, s in scored.scores.items() if k not in attack)
        assert min(scored.scores[k] for k in attack) >= DEFAULT_THRESHOLD > honest
    assert scored.features["p1"]["norm"] > scored.features["p3"]["norm"]


def test_history_raises_a_persistent_attackers_score() -> None:
    attack = {"p0": lambda d: -1.0 * d["p0"]}
    scored = rounds(5, attack)
    assert scored[-1].features["p0"]["reputation"] > 0
    assert scored[-1].history["p0"].rounds == 5


def test_a_participant_that_turns_is_inconsistent_with_its_past() -> None:
    rng = np.random.default_rng(5)
    history = None
    for round_ in range(5):
        deltas = honest_round(rng)
        if round_ == 4:
            deltas["p0"] = rng.normal(size=50) * np.linalg.norm(deltas["p0"]) / np.sqrt(50)
        scored = score_round(deltas, history)
        history = scored.history
    others = [scored.features[k]["consistency"] for k in scored.features if k != "p0"]
    assert scored.features["p0"]["consistency"] > max(others)


def test_small_rounds_score_zero_and_empty_is_empty() -> None:
    assert score_round({}).scores == {}
    two = score_round({"a": np.ones(3), "b": -np.ones(3)})
    assert set(two.scores) == {"a", "b"} and max(two.scores.values()) == 0.0
