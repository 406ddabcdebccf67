"""How noisy the supply-chain comparison is on its 2,065 test shipments: the federated model (the ledger-free
simulation, which ends on the weights the ledger run registers) against the centralised baseline and the two
reference lines, a paired bootstrap of each difference (AUC and recall at precision 0.3), and the same models
trained with other seeds (model initialisation and shuffles; the scenario keeps seed 0, nothing is chosen here).

Usage: nice -n 19 python benchmarks/scenario_bootstrap.py [--resamples 1000] [--seeds 3]
"""

from __future__ import annotations

import argparse
import os
import time
from functools import partial
from typing import Any

import numpy as np

from ledgerml.scenarios import baselines, get
from ledgerml.scenarios.base import StudyData
from ledgerml.scenarios.bootstrap import paired_bootstrap
from ledgerml.scenarios.dataroot import data_root
from ledgerml.scenarios.metrics import recall_at_precision, roc_auc
from ledgerml.scenarios.tuning import simulate, study_config

SCENARIO = "supply-chain"
PRECISION = 0.3


def test_scores(study: Any, data: StudyData, seed: int) -> dict[str, np.ndarray]:
    """Each model's test scores: federated, centralised (as held), true labels, honest organisations only."""
    config = study_config({**study.federation, "seed": seed}, data.organisations)
    spec = baselines.model_spec(config, data)
    wrong = set(baselines.faulty(config))
    rows = {
        "centralised (as held)": baselines.as_held(config, data),
        baselines.REFERENCE_TRUE_LABELS: data.organisations,
        baselines.REFERENCE_HONEST_ONLY: [o for i, o in enumerate(data.organisations) if i not in wrong],
    }
    out = {"federated": baselines.scores(spec, simulate(config, data.organisations, data.n_classes), data.X_test)}
    for name, organisations in rows.items():
        X = np.concatenate([o.X for o in organisations])
        y = np.concatenate([o.y for o in organisations])
        out[name] = baselines.scores(spec, baselines.train(spec, config, X, y), data.X_test)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    started, cpu = time.perf_counter(), time.process_time()
    study = get(SCENARIO).studies[0]
    data = study.load(data_root())
    measures = {"AUC": roc_auc, "recall at precision 0.3": partial(recall_at_precision, precision=PRECISION)}
    by_seed = [test_scores(study, data, seed) for seed in range(args.seeds)]
    print(f"{SCENARIO}: {len(data.y_test)} test shipments, {int(data.y_test.sum())} late\n")
    print("| seed | " + " | ".join(f"{m} {k}" for m in by_seed[0] for k in ("AUC", "recall")) + " |")
    print("|---|" + "---|---|" * len(by_seed[0]))
    for seed, scored in enumerate(by_seed):
        cells = [f"{roc_auc(data.y_test, s):.4f} | {recall_at_precision(data.y_test, s, PRECISION):.4f}"
                 for s in scored.values()]  # fmt: skip
        print(f"| {seed} | " + " | ".join(cells) + " |")
    print(f"\nseed 0, paired bootstrap ({args.resamples} resamples): federated minus each, 95 % interval, points\n")
    print("| against | measure | difference | 95 % interval |")
    print("|---|---|---|---|")
    scored = by_seed[0]
    for name in list(scored)[1:]:
        for label, measure in measures.items():
            d, low, high = paired_bootstrap(data.y_test, scored["federated"], scored[name], measure,
                                            resamples=args.resamples)  # fmt: skip
            print(f"| {name} | {label} | {100 * d:+.2f} | {100 * low:+.2f} to {100 * high:+.2f} |")
    wall, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    print(f"\nwall {wall:.1f} s, CPU {cpu_s:.1f} s, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
