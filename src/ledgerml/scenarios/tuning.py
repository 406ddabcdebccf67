"""Choosing a study's federation settings without its test rows: a validation split carved from each training
organisation's own rows, a ledger-free simulation of the task's rounds (the participants' own local training,
seeds and simulated attack, the norm bound and the rule) and a small grid scored on that split."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..federated.aggregation import aggregate
from ..federated.config import FederationConfig
from ..federated.participant import Participant
from ..federated.validation import check_update
from ..ml.data import OWN
from ..ml.models import build_model
from ..ml.serialization import Weights, flatten, unflatten
from . import baselines
from .base import Organisation, Study, StudyData
from .split import holdout

VALIDATION_FRACTION = 0.25
"""Share of each organisation's training rows (stratified by label) set aside to choose settings on."""
VALIDATION_SEED = 1


@dataclass(frozen=True)
class Carved:
    """The organisations' remaining training rows and the pooled validation rows carved from them."""

    organisations: list[Organisation]
    X_val: np.ndarray
    y_val: np.ndarray


def carve(data: StudyData, fraction: float = VALIDATION_FRACTION, seed: int = VALIDATION_SEED) -> Carved:
    """Each organisation keeps ``1 - fraction`` of its rows; the rest of every organisation, pooled, is the
    validation split (stratified per organisation; the study's own validation and test rows are not used)."""
    kept, X_val, y_val = [], [], []
    for organisation in data.organisations:
        train, val, _ = holdout(organisation.y, (fraction, 0.0), seed)
        kept.append(Organisation(organisation.name, organisation.X[train], organisation.y[train]))
        X_val.append(organisation.X[val])
        y_val.append(organisation.y[val])
    return Carved(kept, np.concatenate(X_val), np.concatenate(y_val))


def study_config(federation: dict[str, Any], organisations: list[Organisation]) -> FederationConfig:
    """The federation settings checked as the runner checks them."""
    return FederationConfig(
        dataset=OWN, participants=len(organisations), names=[o.name for o in organisations], **federation
    )


def _participants(config: FederationConfig, organisations: list[Organisation], n_classes: int) -> list[Participant]:
    """Each organisation trained as the runner's participants are (seed ``seed * 1000 + index``, its attack)."""
    attackers = set(config.attacker_indices())
    return [
        Participant(
            None,  # type: ignore[arg-type]  # never signs: only local training is simulated
            o.X,
            o.y,
            n_classes,
            attack=config.attack if index in attackers else "none",
            epochs=config.epochs,
            lr=config.lr,
            batch_size=config.batch_size,
            seed=config.seed * 1000 + index,
            attack_params=config.attack_params,
            federation_size=len(organisations),
            norm_bound=config.max_update_norm,
        )
        for index, o in enumerate(organisations)
    ]


def simulate(config: FederationConfig, organisations: list[Organisation], n_classes: int) -> Weights:
    """The final global weights of the task's rounds, without a ledger: every participant's local update (as
    ``Participant`` trains it), updates over the norm bound left out, the rule on the rest."""
    spec = {**config.model, "n_features": int(organisations[0].X.shape[1]), "n_classes": n_classes}
    spec["seed"] = config.seed
    weights = build_model(spec).get_weights()
    people = _participants(config, organisations, n_classes)
    for round_ in range(1, config.rounds + 1):
        base = flatten(weights)
        deltas, counts = [], []
        for person in people:
            rng = np.random.default_rng([person.seed, round_])
            update, _ = person.local_update(weights, spec, round_, rng)
            if check_update(update, weights, config.max_update_norm) is None:
                deltas.append(flatten(update) - base)
                counts.append(float(len(person.y)))
        if deltas:
            result = aggregate(config.rule, np.stack(deltas), np.array(counts), config.rule_params)
            weights = unflatten(base + result.delta, weights)
    return weights


def score(study: Study, federation: dict[str, Any], data: StudyData, carved: Carved) -> dict[str, dict[str, float]]:
    """The study's measures on the carved validation rows: the simulated federated model, the centralised
    baseline (same settings) trained on the organisations' remaining rows and, where some labels are faulty,
    the reference lines (``baselines.references``)."""
    config = study_config(federation, carved.organisations)
    shrunk = StudyData(carved.organisations, carved.X_val, carved.y_val, carved.X_val, carved.y_val, data.n_classes,
                       data.split_rule, data.license)  # fmt: skip
    spec = baselines.model_spec(config, shrunk)
    federated = baselines.scores(spec, simulate(config, carved.organisations, data.n_classes), carved.X_val)
    return {
        "federated": study.measures(carved.y_val, federated),
        "centralised": baselines.centralised(config, shrunk, study.measures),
        **baselines.references(config, shrunk, study.measures),
    }


def settings_grid(base: dict[str, Any], choices: dict[str, list[Any]]) -> Iterator[dict[str, Any]]:
    """Every combination of ``choices`` over ``base`` (``hidden`` and ``l2`` are model settings)."""
    for values in itertools.product(*choices.values()):
        federation = {**base, "model": dict(base.get("model", {}))}
        for key, value in zip(choices, values, strict=True):
            if key in ("hidden", "l2"):
                federation["model"][key] = value
            else:
                federation[key] = value
        yield federation


def rank_key(study: Study, measures: dict[str, float], by: str | None = None) -> tuple[float, float]:
    """How a setting ranks (higher is better): measure ``by`` (default the study's headline) on validation, in
    the study's direction, then AUC if any."""
    sign = -1.0 if study.lower_is_better else 1.0
    headline = measures[by or study.headline]
    return (sign * headline if np.isfinite(headline) else -np.inf, measures.get("auc", 0.0))
