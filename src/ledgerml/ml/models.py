"""Small numpy models behind one adapter (get/set weights, fit, evaluate): softmax regression and an MLP.

Deterministic from their spec's seed; float64 weights; plain mini-batch SGD with L2 regularisation.
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


def build_model(spec: dict[str, Any]) -> SoftmaxRegression | MLP:
    """A model from its spec (``{"type": "softmax"|"mlp", "n_features", "n_classes", ...}``)."""
    kind = spec.get("type")
    if kind == ARRAYS_SPEC:
        raise ConfigError(
            "the task's model is the app's own (only its arrays are recorded): pass a server-side evaluate "
            "function; ledgerml cannot build it"
        )
    args = {k: v for k, v in spec.items() if k not in ("type", "arrays")}
    try:
        if kind == "softmax":
            return SoftmaxRegression(**args)
        if kind == "mlp":
            return MLP(**args)
    except TypeError as exc:
        raise ConfigError(f"bad model spec {spec}: {exc}") from None
    raise ConfigError(f"unknown model type {kind!r}: use 'softmax' or 'mlp'")
