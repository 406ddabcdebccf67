"""The regression models: they fit, predict in the target's unit, keep the Weights interface, refuse bad specs,
and the federation config takes them (the end-to-end federated run is in tests/scenarios/test_iot.py)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerml.errors import ConfigError
from ledgerml.ml.models import LinearRegressor, MLPRegressor, build_model, r2_score


def _data(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = np.round(80 + 30 * X[:, 0] - 15 * X[:, 1] + 10 * np.maximum(X[:, 2], 0))
    return X, y


@pytest.mark.parametrize("kind", ["linear", "mlp_regressor"])
def test_fits_a_target_in_its_own_unit(kind: str) -> None:
    X, y = _data()
    model = build_model({"type": kind, "n_features": 4, "n_classes": 1, "target_scale": 50.0})
    before, _ = model.evaluate(X, y)
    model.fit(X, y, epochs=30, lr=0.05, batch_size=32, rng=np.random.default_rng(0))
    mse, r2 = model.evaluate(X, y)
    assert mse < before / 20 and r2 > 0.9
    assert model.predict(X).shape == (len(X),)
    assert abs(float(model.predict(X).mean()) - float(y.mean())) < 5  # predictions are in the target's unit


@pytest.mark.parametrize("kind", ["linear", "mlp_regressor"])
def test_weights_round_trip_and_same_seed_same_model(kind: str) -> None:
    X, y = _data(100)
    a = build_model({"type": kind, "n_features": 4, "n_classes": 1, "seed": 3})
    b = build_model({"type": kind, "n_features": 4, "n_classes": 1, "seed": 3})
    a.fit(X, y, epochs=2, lr=0.01, batch_size=16, rng=np.random.default_rng(1))
    b.set_weights(a.get_weights())
    assert np.array_equal(a.predict(X), b.predict(X))
    with pytest.raises(ConfigError, match="do not fit"):
        b.set_weights({"nope": np.zeros(1)})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "linear", "n_features": 3, "n_classes": 2}, "n_classes must be 1"),
        ({"type": "mlp_regressor", "n_features": 3, "n_classes": 1, "target_scale": 0.0}, "target_scale"),
        ({"type": "linear", "n_features": 3, "n_classes": 1, "hidden": 4}, "bad model spec"),
        ({"type": "ridge", "n_features": 3, "n_classes": 1}, "unknown model type"),
    ],
)
def test_bad_specs_are_one_config_error(spec: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_model(spec)


def test_gradients_match_finite_differences() -> None:
    X, y = _data(20, seed=2)
    model = MLPRegressor(4, hidden=5, seed=1, target_scale=40.0)
    _, grads = model._grads(X, y)
    for name in ("W1", "w2", "b2"):
        flat = model.params[name].reshape(-1)
        step = 1e-6
        flat[0] += step
        up, _ = model._grads(X, y)
        flat[0] -= 2 * step
        down, _ = model._grads(X, y)
        flat[0] += step
        assert grads[name].reshape(-1)[0] == pytest.approx((up - down) / (2 * step), rel=1e-4, abs=1e-8)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(-1000, 1000), min_size=2, max_size=30))
def test_r2_is_one_for_exact_predictions_and_at_most_one(values: list[int]) -> None:
    y = np.array(values, dtype=np.float64)
    if np.ptp(y) == 0:
        assert r2_score(y, y) == 0.0
        return
    assert r2_score(y, y) == pytest.approx(1.0)
    assert r2_score(y, np.full_like(y, y.mean())) == pytest.approx(0.0, abs=1e-9)
    assert r2_score(y, y[::-1]) <= 1.0


def test_linear_regressor_is_least_squares_at_convergence() -> None:
    X, y = _data(300, seed=4)
    model = LinearRegressor(4, l2=0.0, target_scale=100.0)
    model.fit(X, y, epochs=200, lr=0.05, batch_size=300, rng=np.random.default_rng(0))
    A = np.c_[X, np.ones(len(X))]
    exact = np.linalg.lstsq(A, y, rcond=None)[0]
    assert np.allclose(model.predict(X), A @ exact, atol=0.05)


def test_federation_config_takes_the_regressors_and_refuses_misplaced_settings() -> None:
    from ledgerml.federated.config import FederationConfig

    FederationConfig(model={"type": "mlp_regressor", "hidden": 8, "target_scale": 125.0})
    FederationConfig(model={"type": "linear", "target_scale": 100.0})
    for model, message in (
        ({"type": "softmax", "target_scale": 2.0}, "'target_scale' only for type 'linear' or 'mlp_regressor'"),
        ({"type": "linear", "hidden": 4}, "'hidden' only for type 'mlp' or 'mlp_regressor'"),
        ({"type": "linear", "target_scale": 0.0}, "model.target_scale"),
        ({"type": "ridge"}, "model"),
    ):
        with pytest.raises(ConfigError, match=re.escape(message)) as caught:
            FederationConfig(model=model)
        assert "\n" not in str(caught.value)
