"""The baselines a federated model is judged against, trained with the same model and budget on the same rows:
centralised (every organisation's rows pooled) and local-only (each organisation alone; the median reported).
Every setting (model, rounds, epochs, learning rate, batch, seed) is read from the study's ``FederationConfig``,
so a setting a study leaves out has the federation's own default here too.

"The same data" is the rows and labels as the organisations hold them: what each participant's own local
training reads. An organisation with faulty records (the simulated ``label_flip``) holds flipped labels, so
both baselines see them as the federation does; every other simulated attack acts on the update, not on the
rows. Where some labels are faulty, :func:`references` adds two reference lines beside the baseline: the
pooled model on the true labels and on the honest organisations' rows only."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..federated.attacks import flip_labels
from ..federated.config import FederationConfig
from ..ml.models import build_model
from ..ml.serialization import Weights
from .base import Measures, Organisation, StudyData

FAULTY_LABELS = ("label_flip",)
"""Simulated attacks that stand for faulty records: the organisation's rows carry wrong labels."""


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


def faulty(config: FederationConfig) -> list[int]:
    """The organisations (indices) whose records carry faulty labels in the federation."""
    return config.attacker_indices() if config.attack in FAULTY_LABELS else []


def as_held(config: FederationConfig, data: StudyData) -> list[Organisation]:
    """Every organisation's rows with the labels its own local training reads (faulty ones flipped, as
    ``Participant`` flips them)."""
    wrong = set(faulty(config))
    return [
        Organisation(o.name, o.X, flip_labels(o.y, data.n_classes) if index in wrong else o.y)
        for index, o in enumerate(data.organisations)
    ]


def pooled(
    config: FederationConfig, data: StudyData, measures: Measures, organisations: list[Organisation]
) -> dict[str, float]:
    """The measures of one model trained on ``organisations``' rows pooled."""
    spec = model_spec(config, data)
    X = np.concatenate([o.X for o in organisations])
    y = np.concatenate([o.y for o in organisations])
    return measures(data.y_test, scores(spec, train(spec, config, X, y), data.X_test))


def centralised(config: FederationConfig, data: StudyData, measures: Measures) -> dict[str, float]:
    """The measures of one model trained on every organisation's rows pooled, as the organisations hold them."""
    return pooled(config, data, measures, as_held(config, data))


REFERENCE_TRUE_LABELS = "centralised, true labels"
REFERENCE_HONEST_ONLY = "centralised, honest organisations only"


def references(config: FederationConfig, data: StudyData, measures: Measures) -> dict[str, dict[str, float]]:
    """Where some organisation's labels are faulty: the pooled model on the true labels (which no organisation
    holds) and on the other organisations' rows only (the pooled twin of a rule leaving the faulty update
    out); none otherwise."""
    wrong = set(faulty(config))
    if not wrong:
        return {}
    honest = [o for index, o in enumerate(data.organisations) if index not in wrong]
    return {
        REFERENCE_TRUE_LABELS: pooled(config, data, measures, data.organisations),
        REFERENCE_HONEST_ONLY: pooled(config, data, measures, honest),
    }


def local_only(config: FederationConfig, data: StudyData, measures: Measures) -> list[dict[str, float]]:
    """Each organisation's measures with a model trained on its own rows only, as it holds them (in
    organisation order)."""
    spec = model_spec(config, data)
    return [
        measures(data.y_test, scores(spec, train(spec, config, o.X, o.y), data.X_test)) for o in as_held(config, data)
    ]


def median_of(rows: list[dict[str, float]]) -> dict[str, float]:
    """Each measure's median over organisations (``nan`` measures left out; ``nan`` when none is left)."""
    keys = rows[0].keys() if rows else []
    out = {}
    for key in keys:
        values = [r[key] for r in rows if not np.isnan(r[key])]
        out[key] = round(float(np.median(values)), 4) if values else float("nan")
    return out
