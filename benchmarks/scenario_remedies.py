"""Remedies for the supply-chain gap, measured on the validation split carved from the training organisations'
own rows (``scenarios.tuning.carve``; the test rows the scenario reports are never used), over several seeds:
a server step size on the rule's aggregate (FedAvg's server learning rate), FedProx (a proximal term
``mu / 2 * |w - w_global|^2`` in every organisation's local objective) and a class-weighted loss for the rare
late class (both the federation and the baselines). Each row is the mean over seeds of the federated model
and of the centralised baselines: as the organisations hold the rows (the baseline), on true labels and on the
honest organisations only (the two reference lines).

The remedies are simulated here only (the scenario's ledger run uses none of them): the federated rows replay
``scenarios.tuning.simulate``'s rounds with a local trainer that adds the remedy; the first row (no remedy) is
the very arithmetic of ``simulate``.

Usage: nice -n 19 python benchmarks/scenario_remedies.py [--seeds 3] [--out benchmarks/results/scenario_remedies.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ledgerml.federated.aggregation import aggregate
from ledgerml.federated.attacks import flip_labels
from ledgerml.federated.config import FederationConfig
from ledgerml.ml.models import MLP
from ledgerml.ml.serialization import Weights, flatten, unflatten
from ledgerml.scenarios import baselines, get
from ledgerml.scenarios.base import Organisation, StudyData
from ledgerml.scenarios.dataroot import data_root
from ledgerml.scenarios.tuning import Carved, carve, study_config

SCENARIO = "supply-chain"
HEADLINE = "recall_at_precision_0.3"


@dataclass(frozen=True)
class Remedy:
    """One candidate: server step size, FedProx's mu and the late class's loss weight (1, 0, 1: none)."""

    name: str
    server_lr: float = 1.0
    mu: float = 0.0
    pos_weight: float = 1.0


REMEDIES = (
    Remedy("none (the scenario's setting)"),
    Remedy("server step size 1.5", server_lr=1.5),
    Remedy("server step size 2", server_lr=2.0),
    Remedy("FedProx mu 0.01", mu=0.01),
    Remedy("FedProx mu 0.1", mu=0.1),
    Remedy("late class weight 2", pos_weight=2.0),
    Remedy("late class weight 4", pos_weight=4.0),
    Remedy("step size 1.5 + late class weight 2", server_lr=1.5, pos_weight=2.0),
)


class RemedyMLP(MLP):
    """The scenario's MLP with a class-weighted loss and a proximal pull towards the weights it was set to."""

    def __init__(self, spec: dict[str, Any], remedy: Remedy) -> None:
        args = {k: v for k, v in spec.items() if k != "type"}
        super().__init__(**args)
        self.remedy, self.anchor = remedy, None

    def set_weights(self, weights: Weights) -> None:
        super().set_weights(weights)
        self.anchor = {k: v.copy() for k, v in self.params.items()}

    def _grads(self, X: np.ndarray, y: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        if self.remedy.pos_weight == 1.0:
            loss, grads = super()._grads(X, y)
        else:
            loss, grads = self._weighted(X, y)
        if self.remedy.mu and self.anchor is not None:
            grads = {k: g + self.remedy.mu * (self.params[k] - self.anchor[k]) for k, g in grads.items()}
        return loss, grads

    def _weighted(self, X: np.ndarray, y: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        """Cross-entropy with every late row weighted ``pos_weight`` (weights normalised to sum 1)."""
        pre = X @ self.params["W1"] + self.params["b1"]
        h = np.maximum(pre, 0.0)
        z = h @ self.params["W2"] + self.params["b2"]
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        w = np.where(y == 1, self.remedy.pos_weight, 1.0)
        w /= w.sum()
        loss = float(-(w * np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None))).sum())
        p[np.arange(len(y)), y] -= 1.0
        p *= w[:, None]
        dh = (p @ self.params["W2"].T) * (pre > 0)
        return loss, {"W2": h.T @ p, "b2": p.sum(axis=0), "W1": X.T @ dh, "b1": dh.sum(axis=0)}


def _spec(config: FederationConfig, carved: Carved) -> dict[str, Any]:
    return {**config.model, "n_features": int(carved.organisations[0].X.shape[1]), "n_classes": 2, "seed": config.seed}


def simulate(config: FederationConfig, carved: Carved, remedy: Remedy) -> Weights:
    """``tuning.simulate``'s rounds (label-flip attacker, Multi-Krum) with the remedy's local trainer and step."""
    spec = _spec(config, carved)
    weights = RemedyMLP(spec, remedy).get_weights()
    wrong = set(baselines.faulty(config))
    for round_ in range(1, config.rounds + 1):
        base, deltas, counts = flatten(weights), [], []
        for index, o in enumerate(carved.organisations):
            model = RemedyMLP(spec, remedy)
            model.set_weights(weights)
            y = flip_labels(o.y, 2) if index in wrong else o.y
            rng = np.random.default_rng([config.seed * 1000 + index, round_])
            model.fit(o.X, y, epochs=config.epochs, lr=config.lr, batch_size=config.batch_size, rng=rng)
            deltas.append(flatten(model.get_weights()) - base)
            counts.append(float(len(o.y)))
        result = aggregate(config.rule, np.stack(deltas), np.array(counts), config.rule_params)
        weights = unflatten(base + remedy.server_lr * result.delta, weights)
    return weights


def _measure(study: Any, spec: dict[str, Any], remedy: Remedy, weights: Weights, carved: Carved) -> dict[str, float]:
    model = RemedyMLP(spec, remedy)
    model.set_weights(weights)
    return study.measures(carved.y_val, model.predict_proba(carved.X_val)[:, 1])  # type: ignore[no-any-return]


def pooled(config: FederationConfig, carved: Carved, remedy: Remedy, rows: list[Organisation]) -> Weights:
    """``baselines.train`` (the whole budget on the pooled rows) with the remedy's loss (no proximal term)."""
    model = RemedyMLP(_spec(config, carved), Remedy("loss only", pos_weight=remedy.pos_weight))
    X, y = np.concatenate([o.X for o in rows]), np.concatenate([o.y for o in rows])
    epochs = config.rounds * config.epochs
    model.fit(X, y, epochs=epochs, lr=config.lr, batch_size=config.batch_size, rng=np.random.default_rng(config.seed))
    return model.get_weights()


def one(study: Any, data: StudyData, carved: Carved, remedy: Remedy, seed: int) -> dict[str, dict[str, float]]:
    """The federated model and the three pooled models on the carved validation rows, for one seed."""
    config = study_config({**study.federation, "seed": seed}, carved.organisations)
    shrunk = StudyData(carved.organisations, carved.X_val, carved.y_val, carved.X_val, carved.y_val, 2, "", "")
    spec, wrong = _spec(config, carved), set(baselines.faulty(config))
    rows = {
        "federated": simulate(config, carved, remedy),
        "centralised (as held)": pooled(config, carved, remedy, baselines.as_held(config, shrunk)),
        "centralised, true labels": pooled(config, carved, remedy, carved.organisations),
        "centralised, honest only": pooled(
            config, carved, remedy, [o for i, o in enumerate(carved.organisations) if i not in wrong]
        ),
    }
    return {name: _measure(study, spec, remedy, weights, carved) for name, weights in rows.items()}


def mean_over(runs: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Each model's measures averaged over the seeds' runs (4 decimals), with the headline's range."""
    out: dict[str, dict[str, float]] = {}
    for model in runs[0]:
        values = {k: [r[model][k] for r in runs] for k in runs[0][model]}
        out[model] = {k: round(float(np.mean(v)), 4) for k, v in values.items()}
        out[model]["auc min"], out[model]["auc max"] = round(min(values["auc"]), 4), round(max(values["auc"]), 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0 .. N-1 (model init, shuffles)")
    parser.add_argument("--out", type=Path, help="also write the rows as JSON")
    args = parser.parse_args()
    study = get(SCENARIO).studies[0]
    data = study.load(data_root())
    carved = carve(data)
    started, cpu, rows = time.perf_counter(), time.process_time(), []
    for remedy in REMEDIES:
        runs = [one(study, data, carved, remedy, seed) for seed in range(args.seeds)]
        rows.append({"remedy": remedy.name, **mean_over(runs)})
    print(f"{SCENARIO}: validation split, mean over seeds 0..{args.seeds - 1} (AUC range over seeds)\n")
    models = [k for k in rows[0] if k != "remedy"]
    print("| remedy | " + " | ".join(f"{m} AUC | {m} recall" for m in models) + " |")
    print("|---|" + "---|---|" * len(models))
    for r in rows:
        cells = [f"{r[m]['auc']} ({r[m]['auc min']}-{r[m]['auc max']}) | {r[m][HEADLINE]}" for m in models]
        print(f"| {r['remedy']} | " + " | ".join(cells) + " |")
    wall, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    print(f"\nwall {wall:.1f} s, CPU {cpu_s:.1f} s, load average {os.getloadavg()[0]:.1f}")
    if args.out is not None:
        args.out.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
