"""Small numpy models behind one adapter (get/set weights, fit, evaluate): softmax regression and an MLP
(classifiers), linear regression and an MLP regressor (squared loss).

Deterministic from their spec's seed; float64 weights; plain mini-batch SGD with L2 regularisation. A
regressor learns ``y / target_scale`` (a spec setting, so gradients stay of order one whatever the target's
unit) and predicts in the target's own unit; its ``evaluate`` returns (mean squared error, R^2), so the
accuracy slot the federation records and values contributions with is R^2 (higher is better).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from ..errors import ConfigError
from .serialization import Weights

ARRAYS_SPEC = "arrays"
"""Spec type of a task whose model is the app's own: only its arrays are known (names, shapes, dtypes)."""


def describe_arrays(weights: Weights) -> dict[str, dict[str, Any]]:
    """Each array's shape and dtype by name, as a model spec records them."""
    return {
        name: {"shape": [int(n) for n in np.shape(weights[name])], "dtype": str(np.asarray(weights[name]).dtype)}
        for name in sorted(weights)
    }


class Model(Protocol):
    """What federated training needs from a model."""

    spec: dict[str, Any]

    def get_weights(self) -> Weights: ...

    def set_weights(self, weights: Weights) -> None: ...

    def fit(
        self, X: np.ndarray, y: np.ndarray, *, epochs: int, lr: float, batch_size: int, rng: np.random.Generator
    ) -> float: ...

    def evaluate(self, X: np.ndarray, y: np.ndarray) -> tuple[float, float]: ...


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def _xent(p: np.ndarray, y: np.ndarray) -> float:
    return float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None)).mean())


class _Base:
    spec: dict[str, Any]
    params: dict[str, np.ndarray]
    l2: float

    def get_weights(self) -> Weights:
        return {k: v.copy() for k, v in self.params.items()}

    def set_weights(self, weights: Weights) -> None:
        if set(weights) != set(self.params):
            raise ConfigError(f"weights {sorted(weights)} do not fit model arrays {sorted(self.params)}")
        self.params = {k: np.array(weights[k], dtype=np.float64) for k in self.params}

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _grads(self, X: np.ndarray, y: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        raise NotImplementedError

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        *,
        epochs: int = 1,
        lr: float = 0.1,
        batch_size: int = 32,
        rng: np.random.Generator | None = None,
    ) -> float:
        rng = rng or np.random.default_rng(0)
        loss = 0.0
        for _ in range(epochs):
            order = rng.permutation(len(X))
            losses = []
            for start in range(0, len(X), batch_size):
                batch = order[start : start + batch_size]
                loss_b, grads = self._grads(X[batch], y[batch])
                for k in self.params:
                    self.params[k] -= lr * (grads[k] + self.l2 * self.params[k])
                losses.append(loss_b)
            loss = float(np.mean(losses)) if losses else 0.0
        return loss

    def evaluate(self, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        p = self.predict_proba(X)
        return _xent(p, y), float((p.argmax(axis=1) == y).mean())


class SoftmaxRegression(_Base):
    """Multinomial logistic regression."""

    def __init__(self, n_features: int, n_classes: int, seed: int = 0, l2: float = 1e-4) -> None:
        self.spec = {"type": "softmax", "n_features": n_features, "n_classes": n_classes, "seed": seed, "l2": l2}
        rng = np.random.default_rng(seed)
        self.l2 = l2
        self.params = {"W": rng.normal(0, 0.01, (n_features, n_classes)), "b": np.zeros(n_classes)}

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return _softmax(X @ self.params["W"] + self.params["b"])

    def _grads(self, X: np.ndarray, y: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        p = self.predict_proba(X)
        loss = _xent(p, y)
        p[np.arange(len(y)), y] -= 1.0
        p /= len(y)
        return loss, {"W": X.T @ p, "b": p.sum(axis=0)}


class MLP(_Base):
    """One hidden ReLU layer, softmax output."""

    def __init__(self, n_features: int, n_classes: int, hidden: int = 32, seed: int = 0, l2: float = 1e-4) -> None:
        self.spec = {
            "type": "mlp",
            "n_features": n_features,
            "n_classes": n_classes,
            "hidden": hidden,
            "seed": seed,
            "l2": l2,
        }
        rng = np.random.default_rng(seed)
        self.l2 = l2
        self.params = {
            "W1": rng.normal(0, np.sqrt(2.0 / n_features), (n_features, hidden)),
            "b1": np.zeros(hidden),
            "W2": rng.normal(0, np.sqrt(1.0 / hidden), (hidden, n_classes)),
            "b2": np.zeros(n_classes),
        }

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        h = np.maximum(X @ self.params["W1"] + self.params["b1"], 0.0)
        return _softmax(h @ self.params["W2"] + self.params["b2"])

    def _grads(self, X: np.ndarray, y: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        pre = X @ self.params["W1"] + self.params["b1"]
        h = np.maximum(pre, 0.0)
        p = _softmax(h @ self.params["W2"] + self.params["b2"])
        loss = _xent(p, y)
        p[np.arange(len(y)), y] -= 1.0
        p /= len(y)
        dh = (p @ self.params["W2"].T) * (pre > 0)
        return loss, {"W2": h.T @ p, "b2": p.sum(axis=0), "W1": X.T @ dh, "b1": dh.sum(axis=0)}


REGRESSORS = ("linear", "mlp_regressor")
"""Spec types of the regression models (``n_classes`` is 1; labels are the targets)."""


def r2_score(y: np.ndarray, prediction: np.ndarray) -> float:
    """Coefficient of determination (1 - SSE/SST; 0 when the targets are constant and predicted exactly)."""
    y = np.asarray(y, dtype=np.float64)
    sse = float(((y - prediction) ** 2).sum())
    sst = float(((y - y.mean()) ** 2).sum())
    if sst == 0:
        return 0.0 if sse == 0 else float("-inf")
    return 1.0 - sse / sst


class _Regressor(_Base):
    """Squared loss on ``y / target_scale``; predictions and ``evaluate`` in the target's unit."""

    target_scale: float

    def _raw(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _raw_grads(self, X: np.ndarray, residual: np.ndarray) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The predicted target of each row."""
        return np.asarray(self._raw(X) * self.target_scale)

    def _grads(self, X: np.ndarray, y: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        residual = self._raw(X) - np.asarray(y, dtype=np.float64) / self.target_scale
        return 0.5 * float((residual**2).mean()), self._raw_grads(X, residual / len(y))

    def evaluate(self, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        prediction = self.predict(X)
        return float(((prediction - y) ** 2).mean()), r2_score(y, prediction)


def _check_regression(n_classes: int, target_scale: float) -> None:
    if n_classes != 1:
        raise ConfigError(f"a regression model has one output: n_classes must be 1, not {n_classes}")
    if not target_scale > 0:
        raise ConfigError(f"target_scale must be positive, not {target_scale}")


class LinearRegressor(_Regressor):
    """Least-squares linear regression."""

    def __init__(
        self, n_features: int, n_classes: int = 1, seed: int = 0, l2: float = 1e-4, target_scale: float = 1.0
    ) -> None:
        _check_regression(n_classes, target_scale)
        self.spec = {
            "type": "linear",
            "n_features": n_features,
            "n_classes": n_classes,
            "seed": seed,
            "l2": l2,
            "target_scale": target_scale,
        }
        self.l2, self.target_scale = l2, float(target_scale)
        self.params = {"w": np.random.default_rng(seed).normal(0, 0.01, n_features), "b": np.zeros(1)}

    def _raw(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X @ self.params["w"] + self.params["b"][0])

    def _raw_grads(self, X: np.ndarray, residual: np.ndarray) -> dict[str, np.ndarray]:
        return {"w": X.T @ residual, "b": np.array([residual.sum()])}


class MLPRegressor(_Regressor):
    """One hidden ReLU layer, one linear output, squared loss."""

    def __init__(
        self,
        n_features: int,
        n_classes: int = 1,
        hidden: int = 32,
        seed: int = 0,
        l2: float = 1e-4,
        target_scale: float = 1.0,
    ) -> None:
        _check_regression(n_classes, target_scale)
        self.spec = {
            "type": "mlp_regressor",
            "n_features": n_features,
            "n_classes": n_classes,
            "hidden": hidden,
            "seed": seed,
            "l2": l2,
            "target_scale": target_scale,
        }
        rng = np.random.default_rng(seed)
        self.l2, self.target_scale = l2, float(target_scale)
        self.params = {
            "W1": rng.normal(0, np.sqrt(2.0 / n_features), (n_features, hidden)),
            "b1": np.zeros(hidden),
            "w2": rng.normal(0, np.sqrt(1.0 / hidden), hidden),
            "b2": np.zeros(1),
        }

    def _hidden(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pre = X @ self.params["W1"] + self.params["b1"]
        return pre, np.maximum(pre, 0.0)

    def _raw(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self._hidden(X)[1] @ self.params["w2"] + self.params["b2"][0])

    def _raw_grads(self, X: np.ndarray, residual: np.ndarray) -> dict[str, np.ndarray]:
        pre, h = self._hidden(X)
        dh = np.outer(residual, self.params["w2"]) * (pre > 0)
        return {"w2": h.T @ residual, "b2": np.array([residual.sum()]), "W1": X.T @ dh, "b1": dh.sum(axis=0)}


AnyModel = SoftmaxRegression | MLP | LinearRegressor | MLPRegressor
_TYPES: dict[str, type[AnyModel]] = {
    "softmax": SoftmaxRegression,
    "mlp": MLP,
    "linear": LinearRegressor,
    "mlp_regressor": MLPRegressor,
}


def build_model(spec: dict[str, Any]) -> AnyModel:
    """A model from its spec (``{"type": "softmax"|"mlp"|"linear"|"mlp_regressor", "n_features", ...}``)."""
    kind = spec.get("type")
    if kind == ARRAYS_SPEC:
        raise ConfigError(
            "the task's model is the app's own (only its arrays are recorded): pass a server-side evaluate "
            "function; ledgerml cannot build it"
        )
    args = {k: v for k, v in spec.items() if k not in ("type", "arrays")}
    if not isinstance(kind, str) or kind not in _TYPES:
        raise ConfigError(f"unknown model type {kind!r}: use one of {', '.join(repr(t) for t in _TYPES)}")
    try:
        return _TYPES[kind](**args)
    except TypeError as exc:
        raise ConfigError(f"bad model spec {spec}: {exc}") from None
