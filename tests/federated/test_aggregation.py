"""Aggregation rules, validation, attacks, DP and partitions as plain functions (no Flower, no ledger)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerml.errors import ConfigError
from ledgerml.federated import aggregation, attacks
from ledgerml.federated.aggregation import RULES, aggregate, check_rule, krum_scores, pairwise_sq_distances
from ledgerml.federated.dp import clip_and_noise, gaussian_epsilon
from ledgerml.federated.validation import check_update
from ledgerml.ml.data import partition_dirichlet, partition_iid
from ledgerml.ml.serialization import digest_of, flatten, from_bytes, to_bytes, unflatten

from . import _reference_rules


def honest_and_outliers(rng: np.random.Generator, honest: int, outliers: int, dim: int = 12) -> np.ndarray:
    good = rng.normal(0.0, 0.1, size=(honest, dim)) + 1.0
    bad = rng.normal(0.0, 0.1, size=(outliers, dim)) - 50.0
    return np.vstack([good, bad])


@pytest.mark.parametrize("rule", sorted(RULES))
def test_every_rule_is_bitwise_deterministic(rule: str) -> None:
    rng = np.random.default_rng(1)
    deltas, weights = rng.normal(size=(9, 40)), rng.integers(1, 50, size=9).astype(float)
    a = aggregate(rule, deltas, weights)
    b = aggregate(rule, deltas.copy(), weights.copy())
    assert a.delta.tobytes() == b.delta.tobytes() and a.accepted == b.accepted and a.rejected == b.rejected


def test_fedavg_is_the_weighted_mean() -> None:
    deltas = np.array([[1.0, 2.0], [3.0, 6.0]])
    result = aggregate("fedavg", deltas, np.array([1.0, 3.0]))
    assert np.allclose(result.delta, [2.5, 5.0]) and result.accepted == (0, 1)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31), st.integers(5, 12), st.integers(1, 2))
def test_krum_family_rejects_far_outliers(seed: int, honest: int, outliers: int) -> None:
    deltas = honest_and_outliers(np.random.default_rng(seed), honest, outliers)
    weights = np.ones(len(deltas))
    bad = set(range(honest, honest + outliers))
    for rule, params in [("krum", {"f": outliers}), ("multi_krum", {"f": outliers})]:
        result = aggregate(rule, deltas, weights, params)
        assert bad.isdisjoint(result.accepted) and bad <= set(result.rejected)
        assert np.all(np.abs(result.delta - 1.0) < 1.0)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31), st.integers(7, 12))
def test_coordinate_rules_stay_within_honest_range(seed: int, honest: int) -> None:
    outliers = 1 if honest < 9 else 2
    deltas = honest_and_outliers(np.random.default_rng(seed), honest, outliers)
    low, high = deltas[:honest].min(axis=0), deltas[:honest].max(axis=0)
    for rule, params in [("median", {}), ("trimmed_mean", {"beta": 0.2}), ("bulyan", {"f": outliers})]:
        result = aggregate(rule, deltas, np.ones(len(deltas)), params)
        assert np.all(result.delta >= low - 1e-12) and np.all(result.delta <= high + 1e-12), rule


def test_norm_clipped_mean_bounds_every_contribution() -> None:
    deltas = np.array([[3.0, 4.0], [300.0, 400.0]])
    result = aggregate("norm_clipped_mean", deltas, np.ones(2), {"clip": 1.0})
    assert np.linalg.norm(result.delta) <= 1.0 + 1e-12 and result.info["clipped"] == 2.0


def test_krum_scores_by_hand() -> None:
    deltas = np.array([[0.0], [1.0], [2.0], [10.0], [11.0]])
    distances = pairwise_sq_distances(deltas)
    assert distances[0, 3] == 100.0
    assert list(krum_scores(distances, 1)) == [5.0, 2.0, 5.0, 65.0, 82.0]  # 2 nearest each


def test_f_is_clamped_to_what_few_updates_tolerate() -> None:
    deltas = np.array([[0.0], [0.1], [9.0], [0.2]])
    result = aggregate("multi_krum", deltas, np.ones(4), {"f": 3})
    assert result.info["f"] == 0.0 and len(result.accepted) == 4


def test_rule_and_parameter_errors() -> None:
    with pytest.raises(ConfigError, match="unknown aggregation rule"):
        check_rule("average", {})
    with pytest.raises(ConfigError, match="takes no parameter"):
        check_rule("median", {"beta": 0.1})
    with pytest.raises(ConfigError):
        aggregate("trimmed_mean", np.ones((3, 2)), np.ones(3), {"beta": 0.5})
    with pytest.raises(ConfigError):
        aggregate("fedavg", np.ones((0, 2)), np.ones(0))


def test_serialization_roundtrip_and_stable_digest() -> None:
    weights = {"W": np.arange(6, dtype=np.float64).reshape(2, 3), "b": np.zeros(3)}
    data = to_bytes(weights)
    assert to_bytes(from_bytes(data)) == data and digest_of(weights) == digest_of({"b": np.zeros(3), **weights})
    assert np.array_equal(unflatten(flatten(weights), weights)["W"], weights["W"])
    with pytest.raises(Exception, match="safetensors"):
        from_bytes(b"\x00garbage")


def test_validation_reasons() -> None:
    template = {"W": np.zeros((2, 2)), "b": np.zeros(2)}
    assert check_update({"W": np.ones((2, 2)), "b": np.ones(2)}, template, 10.0) is None
    assert "non-finite" in check_update({"W": np.full((2, 2), np.nan), "b": np.zeros(2)}, template, None)  # type: ignore[operator]
    assert "shape" in check_update({"W": np.zeros((3, 2)), "b": np.zeros(2)}, template, None)  # type: ignore[operator]
    assert "dtype" in check_update({"W": np.zeros((2, 2), np.float32), "b": np.zeros(2)}, template, None)  # type: ignore[operator]
    assert "arrays" in check_update({"W": np.zeros((2, 2))}, template, None)  # type: ignore[operator]
    assert "exceeds the bound" in check_update({"W": np.full((2, 2), 100.0), "b": np.zeros(2)}, template, 1.0)  # type: ignore[operator]


def test_attacks() -> None:
    base = {"w": np.zeros(3)}
    honest = {"w": np.array([1.0, 0.0, -1.0])}
    assert np.array_equal(attacks.sign_flip(honest, base, 2.0)["w"], [-2.0, 0.0, 2.0])
    assert np.array_equal(attacks.scale_update(honest, base, 3.0)["w"], [3.0, 0.0, -3.0])
    assert np.array_equal(attacks.free_ride(base)["w"], base["w"])
    assert np.array_equal(attacks.flip_labels(np.array([0, 9, 3]), 10), [9, 0, 6])
    noisy = attacks.gaussian_noise(base, 1.0, np.random.default_rng(0))
    assert noisy["w"].dtype == base["w"].dtype and not np.array_equal(noisy["w"], base["w"])


def test_dp_clipping_noise_and_accounting() -> None:
    base = {"w": np.zeros(100)}
    update = {"w": np.full(100, 10.0)}
    clipped = clip_and_noise(update, base, 1.0, 0.0, np.random.default_rng(0))
    assert math.isclose(float(np.linalg.norm(clipped["w"])), 1.0)
    noisy = clip_and_noise(update, base, 1.0, 1.0, np.random.default_rng(0))
    assert float(np.linalg.norm(noisy["w"])) > 5.0  # noise of std 1 in 100 dimensions
    eps = [gaussian_epsilon(2.0, r, 1e-5) for r in (1, 5, 20)]
    assert eps == sorted(eps) and gaussian_epsilon(4.0, 5, 1e-5) < eps[1]
    assert gaussian_epsilon(0.0, 1, 1e-5) == math.inf
    # closed form equals a fine numeric minimisation over alpha
    a, b = 5 * 2.0 / 2.0**2, math.log(1e5)
    numeric = min(a * alpha + b / (alpha - 1) for alpha in np.linspace(1.001, 200, 400000))
    assert abs(eps[1] - numeric) < 1e-3


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31), st.integers(2, 8), st.floats(0.1, 5.0))
def test_partitions_cover_every_row_once(seed: int, parts: int, alpha: float) -> None:
    y = np.random.default_rng(seed).integers(0, 5, size=400)
    for shards in (partition_iid(len(y), parts, seed), partition_dirichlet(y, parts, alpha, seed, min_size=1)):
        combined = np.concatenate(shards)
        assert len(shards) == parts and sorted(combined.tolist()) == list(range(len(y)))


# --- O(n*d) rules (issue 19): same bits as the old n x n x d implementation, any reading order ---------------

RULE_PARAMS: list[tuple[str, dict[str, float]]] = [
    ("fedavg", {}),
    ("median", {}),
    ("trimmed_mean", {"beta": 0.2}),
    ("krum", {}),
    ("multi_krum", {}),
    ("bulyan", {}),
    ("norm_clipped_mean", {"clip": 0.5}),
]


def spread_deltas(seed: int, n: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of very different scales (so summation order shows in the bits), weights with a zero."""
    rng = np.random.default_rng(seed)
    deltas = rng.normal(size=(n, d)) * 10.0 ** rng.integers(-6, 6, size=(n, 1))
    weights = rng.integers(0, 40, size=n).astype(float)
    return deltas, weights


def same_result(a: object, b: object) -> bool:
    return (
        a.delta.tobytes() == b.delta.tobytes()  # type: ignore[attr-defined]
        and a.accepted == b.accepted  # type: ignore[attr-defined]
        and a.rejected == b.rejected  # type: ignore[attr-defined]
        and a.info == b.info  # type: ignore[attr-defined]
    )


@pytest.mark.parametrize(("rule", "params"), RULE_PARAMS)
@pytest.mark.parametrize(("n", "d"), [(1, 5), (2, 1), (5, 37), (9, 300), (23, 129), (12, aggregation.BLOCK)])
def test_rules_match_the_old_implementation_bit_for_bit(rule: str, params: dict[str, float], n: int, d: int) -> None:
    deltas, weights = spread_deltas(n * 1000 + d, n, d)
    old = _reference_rules.OLD_RULES[rule](deltas, weights, **params)
    assert same_result(aggregate(rule, deltas, weights, params), old)


class ChunkedDeltas:
    """A Deltas source that reads in odd-sized pieces and counts its reads, as a stream would."""

    def __init__(self, matrix: np.ndarray) -> None:
        self.matrix, self.reads = matrix, 0

    @property
    def shape(self) -> tuple[int, int]:
        return self.matrix.shape  # type: ignore[return-value]

    def columns(self, lo: int, hi: int) -> np.ndarray:
        self.reads += 1
        parts = [self.matrix[:, a : min(hi, a + 7)] for a in range(lo, hi, 7)]
        return np.ascontiguousarray(np.hstack(parts), dtype=np.float64)

    def row(self, i: int) -> np.ndarray:
        self.reads += 1
        return self.matrix[i].astype(np.float64)


@pytest.mark.parametrize(("rule", "params"), RULE_PARAMS)
def test_bits_do_not_depend_on_the_source_or_the_column_block(
    rule: str, params: dict[str, float], monkeypatch: pytest.MonkeyPatch
) -> None:
    deltas, weights = spread_deltas(7, 8, 2 * aggregation.BLOCK + 5)
    expected = aggregate(rule, deltas, weights, params)
    source = ChunkedDeltas(deltas)
    assert same_result(aggregate(rule, source, weights, params), expected) and source.reads > 0
    monkeypatch.setattr(aggregation, "COLUMN_CELLS", 8 * 100)  # 100 columns per coordinate block
    assert same_result(aggregate(rule, deltas, weights, params), expected)
    for threads in ("1", "3"):
        monkeypatch.setenv("LEDGERML_AGG_THREADS", threads)
        assert aggregation.workers() == int(threads)
        assert same_result(aggregate(rule, deltas, weights, params), expected)


def test_norms_and_distances_sum_block_by_block_in_order() -> None:
    deltas, _ = spread_deltas(3, 4, 2 * aggregation.BLOCK + 11)
    b = aggregation.BLOCK
    pieces = [deltas[:, :b], deltas[:, b : 2 * b], deltas[:, 2 * b :]]
    norms = np.zeros(4)
    for piece in pieces:
        norms = norms + (piece * piece).sum(axis=1)
    assert aggregation.row_sq_norms(deltas).tobytes() == norms.tobytes()
    distances = pairwise_sq_distances(deltas)
    for i in range(4):
        for j in range(4):
            expected = 0.0
            for piece in pieces:
                expected += float(((piece[i] - piece[j]) ** 2).sum())
            assert distances[i, j] == expected


def test_float32_updates_give_the_bits_of_their_float64_widening() -> None:
    deltas32 = np.random.default_rng(5).normal(size=(7, 3000)).astype(np.float32)
    weights = np.arange(1.0, 8.0)
    for rule, params in RULE_PARAMS:
        wide = aggregate(rule, deltas32.astype(np.float64), weights, params)
        assert same_result(aggregate(rule, deltas32, weights, params), wide)


def test_krum_memory_is_linear_in_n_times_d() -> None:
    import tracemalloc

    n, d = 20, 20_000
    deltas = np.random.default_rng(0).normal(size=(n, d))
    tracemalloc.start()
    try:
        aggregate("multi_krum", deltas, np.ones(n))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * n * d * 8  # the old rule needed n * n * d * 8 (2 * 20x); this one a few blocks


@pytest.mark.parametrize("bad", [np.zeros((0, 3)), np.zeros(4), np.zeros((3, 0)), [["a", "b"]], np.zeros((2, 2, 2))])
def test_malformed_update_matrices_are_one_config_error(bad: object) -> None:
    with pytest.raises(ConfigError):
        aggregate("fedavg", bad, np.ones(2))  # type: ignore[arg-type]


@pytest.mark.parametrize(("rule", "params"), RULE_PARAMS)
def test_rules_never_modify_the_callers_matrix(rule: str, params: dict[str, float]) -> None:
    deltas, weights = spread_deltas(11, 1, 50)  # one row: a column block of it is contiguous
    for matrix in (deltas, spread_deltas(12, 6, 40)[0]):
        before = matrix.copy()
        aggregate(rule, matrix, weights if len(matrix) == 1 else np.ones(len(matrix)), params)
        assert matrix.tobytes() == before.tobytes()
