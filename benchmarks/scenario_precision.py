"""Why the supply-chain headline (late-delivery recall at precision 0.3) is unstable: on the validation split
carved from the training organisations' own rows (``scenarios.tuning.carve``; the test rows are never used),
the scenario's federated model (``scenarios.tuning.simulate``) and the pooled true-label model, for several
seeds: recall at precisions 0.2 to 0.5 (reference lines; the headline stays 0.3), how many times the precision
of the top-scored shipments crosses 0.3 going down the ranking, the precision of the top 25 to 600
alerts, and a bootstrap percentile interval of each model's recall and AUC over the rows.

Usage: nice -n 19 python benchmarks/scenario_precision.py [--seeds 3] [--resamples 1000]
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np

from ledgerml.scenarios import baselines, get
from ledgerml.scenarios.base import StudyData
from ledgerml.scenarios.dataroot import data_root
from ledgerml.scenarios.metrics import precision_crossings, recall_at_precision, roc_auc
from ledgerml.scenarios.tuning import Carved, carve, simulate, study_config

LEVELS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.5)
HEADLINE = 0.3


def validation_scores(study: Any, carved: Carved, seed: int) -> dict[str, np.ndarray]:
    """The federated and the true-label pooled model's scores on the carved validation rows."""
    config = study_config({**study.federation, "seed": seed}, carved.organisations)
    shrunk = StudyData(carved.organisations, carved.X_val, carved.y_val, carved.X_val, carved.y_val, 2, "", "")
    spec = baselines.model_spec(config, shrunk)
    X = np.concatenate([o.X for o in carved.organisations])
    y = np.concatenate([o.y for o in carved.organisations])
    return {
        "federated": baselines.scores(spec, simulate(config, carved.organisations, 2), carved.X_val),
        "true labels": baselines.scores(spec, baselines.train(spec, config, X, y), carved.X_val),
    }


def interval(y: np.ndarray, s: np.ndarray, measure: Any, resamples: int) -> tuple[float, float]:
    """The 95 % percentile interval of ``measure`` over resamplings of the rows."""
    rng = np.random.default_rng(0)
    values = [measure(y[r], s[r]) for r in (rng.integers(0, len(y), len(y)) for _ in range(resamples))]
    low, high = np.nanpercentile(values, [2.5, 97.5])
    return float(low), float(high)


TOP = (25, 50, 100, 200, 300, 400, 600)


def precision_at_top(y: np.ndarray, s: np.ndarray) -> str:
    """The precision of the top-k scored shipments, for each k in ``TOP`` (the PR curve by alert count)."""
    hits = np.cumsum(y[np.argsort(-s, kind="mergesort")])
    return " ".join(f"{hits[k - 1] / k:.2f}" for k in TOP if k <= len(y))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()
    started, cpu = time.perf_counter(), time.process_time()
    study = get("supply-chain").studies[0]
    carved = carve(study.load(data_root()))
    y = carved.y_val
    print(f"supply-chain validation split: {len(y)} shipments, {int(y.sum())} late\n")
    print("| seed, model | " + " | ".join(f"recall at {p:g}" for p in LEVELS) + " | crossings of 0.3 | "
          f"precision of the top {'/'.join(map(str, TOP))} | recall at 0.3, 95 % | AUC, 95 % |")  # fmt: skip
    print("|---|" + "---|" * (len(LEVELS) + 4))
    for seed in range(args.seeds):
        for name, s in validation_scores(study, carved, seed).items():
            recalls = [f"{recall_at_precision(y, s, p):.3f}" for p in LEVELS]
            r_low, r_high = interval(y, s, lambda a, b: recall_at_precision(a, b, HEADLINE), args.resamples)
            a_low, a_high = interval(y, s, roc_auc, args.resamples)
            cells = [*recalls, str(precision_crossings(y, s, HEADLINE)), precision_at_top(y, s)]
            cells += [f"{r_low:.3f}..{r_high:.3f}", f"{a_low:.4f}..{a_high:.4f}"]
            print(f"| {seed}, {name} | " + " | ".join(cells) + " |", flush=True)
    wall, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    print(f"\nwall {wall:.1f} s, CPU {cpu_s:.1f} s, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
