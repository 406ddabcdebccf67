"""The baselines a federated model is judged against, trained with the same model and budget on the same rows:
centralised (every organisation's rows pooled) and local-only (each organisation alone; the median reported).
Every setting (model, rounds, epochs, learning rate, batch, seed) is read from the study's ``FederationConfig``,
so a setting a study leaves out has the federation's own default here too."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..federated.config import FederationConfig
from ..ml.models import build_model
from ..ml.serialization import Weights
from .base import Measures, StudyData


def model_spec(config: FederationConfig, data: StudyData) -> dict[str, Any]:
    """The spec the task's initial model is built from (as ``setup_federation`` builds it)."""
    n_features = int(data.organisations[0].X.shape[1])
    return {**config.model, "n_features": n_features, "n_classes": data.n_classes, "seed": config.seed}


def scores(spec: dict[str, Any], weights: Weights, X: np.ndarray) -> np.ndarray:
    """What the measures take: a regressor's predictions, else the positive-class probability (binary) or
    every class's probability (more classes)."""
    model: Any = build_model(spec)
    model.set_weights(weights)
    if hasattr(model, "predict"):  # the regressors (classifiers have predict_proba only)
        return np.asarray(model.predict(X))
    probabilities = np.asarray(model.predict_proba(X))
    return probabilities[:, 1] if probabilities.shape[1] == 2 else probabilities


def train(spec: dict[str, Any], config: FederationConfig, X: np.ndarray, y: np.ndarray) -> Weights:
    """Weights after the federation's whole budget (rounds x epochs passes, same lr and batch) on ``X, y``."""
    model = build_model(spec)
    model.fit(
        X,
        y,
        epochs=config.rounds * config.epochs,
        lr=config.lr,
        batch_size=config.batch_size,
        rng=np.random.default_rng(config.seed),
    )
    return model.get_weights()


def centralised(config: FederationConfig, data: StudyData, measures: Measures) -> dict[str, float]:
    """The measures of one model trained on every organisation's rows pooled."""
    spec = model_spec(config, data)
    X = np.concatenate([o.X for o in data.organisations])
    y = np.concatenate([o.y for o in data.organisations])
    return measures(data.y_test, scores(spec, train(spec, config, X, y), data.X_test))


def local_only(config: FederationConfig, data: StudyData, measures: Measures) -> list[dict[str, float]]:
    """Each organisation's measures with a model trained on its own rows only (in organisation order)."""
    spec = model_spec(config, data)
    return [measures(data.y_test, scores(spec, train(spec, config, o.X, o.y), data.X_test)) for o in data.organisations]


def median_of(rows: list[dict[str, float]]) -> dict[str, float]:
    """Each measure's median over organisations (``nan`` measures left out; ``nan`` when none is left)."""
    keys = rows[0].keys() if rows else []
    out = {}
    for key in keys:
        values = [r[key] for r in rows if not np.isnan(r[key])]
        out[key] = round(float(np.median(values)), 4) if values else float("nan")
    return out
