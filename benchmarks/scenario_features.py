"""Is the model class or the feature set what limits the supply-chain scenario? Richer but still federable
models (logistic, wider MLPs) and more SCMS columns known before delivery, measured on the validation split
carved from the training organisations' own rows (``scenarios.tuning.carve``; the reported test rows are never
used), over several seeds. Each row: the federated model (``scenarios.tuning.simulate``: the participants' own
training, the label-flip attacker, Multi-Krum) and the three pooled models with the same model class and
budget (rows as held, true labels, honest organisations only); the gap is federated minus true labels.

Every extra column is a property of the shipment's own row (or, for line items per shipment, of the rows with
the same ASN/DN number, which all go to one country), so each organisation computes it from its own records;
scaling is the consortium's (``split.consortium_scaling``), as in the scenario.

Usage: nice -n 19 python benchmarks/scenario_features.py [--seeds 3] [--only NAME ...] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from ledgerml.scenarios import baselines, get, shipments, supply_chain
from ledgerml.scenarios.base import StudyData
from ledgerml.scenarios.dataroot import data_file, data_root
from ledgerml.scenarios.split import study_data
from ledgerml.scenarios.tables import signed_log, with_header
from ledgerml.scenarios.tuning import Carved, carve, simulate, study_config

HEADLINE = "recall_at_precision_0.3"
EXTRA_CATEGORIES = ("Manufacturing Site", "Molecule/Test Type", "Brand", "Managed By", "Dosage")


def _one_hot(values: list[str], name: str, share: float) -> np.ndarray:
    """Columns for the values held by at least ``share`` of the rows, and 'other'."""
    counts = Counter(values)
    keep = sorted(v for v, n in counts.items() if n >= max(1.0, share * len(values)))
    index = {v: i for i, v in enumerate(keep)}
    out = np.zeros((len(values), len(keep) + 1))
    out[np.arange(len(values)), [index.get(v, len(keep)) for v in values]] = 1.0
    return out


def extras(path: Path) -> dict[str, np.ndarray]:
    """Candidate feature blocks, one per name, in the file's row order."""
    header, body = with_header(path, shipments.REQUIRED)
    col = {name: header.index(name) for name in header}
    out = {c: _one_hot([r[col[c]].strip() for r in body], c, shipments.MIN_SHARE) for c in EXTRA_CATEGORIES}
    asn = [r[col["ASN/DN #"]].strip() for r in body]
    per = Counter(asn)
    out["line items per shipment"] = np.c_[signed_log(np.array([per[a] for a in asn], dtype=float))]
    out["ASN or DN"] = np.c_[[a.startswith("DN") for a in asn]].astype(float)
    out["PQ status"] = shipments.pq_status([r[col[shipments.PQ_SENT]] for r in body])
    out["project programme"] = _one_hot([r[col["Project Code"]].strip().split("-")[-1] for r in body], "p", 0.005)
    return out


FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "the 69 before": (),
    "+ manufacturing site": ("Manufacturing Site",),
    "+ molecule / test type": ("Molecule/Test Type",),
    "+ brand, dosage, managed by": ("Brand", "Dosage", "Managed By"),
    "+ line items per shipment, ASN/DN": ("line items per shipment", "ASN or DN"),
    "+ PQ status (adopted: the scenario's 71)": ("PQ status",),
    "+ project programme": ("project programme",),
}
FEATURE_SETS["+ all of the above"] = tuple(c for v in FEATURE_SETS.values() for c in v)
FEATURE_SETS["+ PQ status, project programme"] = ("PQ status", "project programme")
ADOPTED = "+ PQ status (adopted: the scenario's 71)"
MODELS: dict[str, dict[str, Any]] = {
    "mlp 32 (scenario's)": {"type": "mlp", "hidden": 32},
    "logistic": {"type": "softmax"},
    "mlp 64": {"type": "mlp", "hidden": 64},
    "mlp 128": {"type": "mlp", "hidden": 128},
}


def load(root: Path, blocks: tuple[str, ...], cache: dict[str, np.ndarray]) -> StudyData:
    """The scenario's study data with ``blocks`` appended to the 69 features it had before the PQ status was
    adopted (so ``+ PQ status`` is the scenario's own 71 columns, in its order)."""
    found = shipments.read_shipments(data_file(supply_chain.SCMS_FILE, root))
    groups, names = supply_chain.organisations_of(found.country)
    before = found.X[:, [i for i, c in enumerate(found.columns) if c not in shipments.PQ_STATUS]]
    X = np.hstack([before, *(cache[b] for b in blocks)])
    return study_data(X, found.y, groups, names, split_rule="", license="", seed=supply_chain.SEED)


def one(study: Any, model: dict[str, Any], carved: Carved, seed: int) -> dict[str, dict[str, float]]:
    """Federated and the three pooled models on the carved validation rows, for one seed."""
    config = study_config({**study.federation, "model": model, "seed": seed}, carved.organisations)
    shrunk = StudyData(carved.organisations, carved.X_val, carved.y_val, carved.X_val, carved.y_val, 2, "", "")
    spec = baselines.model_spec(config, shrunk)
    federated = baselines.scores(spec, simulate(config, carved.organisations, 2), carved.X_val)
    return {
        "federated": study.measures(carved.y_val, federated),
        "as held": baselines.centralised(config, shrunk, study.measures),
        **baselines.references(config, shrunk, study.measures),
    }


def summary(runs: list[dict[str, dict[str, float]]]) -> dict[str, Any]:
    """Means over seeds of each model's AUC and headline, the AUC gap to the true labels and its range."""
    out: dict[str, Any] = {}
    for name in runs[0]:
        out[name] = {k: round(float(np.mean([r[name][k] for r in runs])), 4) for k in ("auc", HEADLINE)}
    gaps = [100 * (r["federated"]["auc"] - r[baselines.REFERENCE_TRUE_LABELS]["auc"]) for r in runs]
    out["auc by seed"] = {name: [r[name]["auc"] for r in runs] for name in runs[0]}
    out["gap"] = {"mean": round(float(np.mean(gaps)), 2), "min": round(min(gaps), 2), "max": round(max(gaps), 2)}
    return out


def _row(label: str, s: dict[str, Any]) -> str:
    models = ("federated", "as held", baselines.REFERENCE_TRUE_LABELS, baselines.REFERENCE_HONEST_ONLY)
    cells = [f"{s[m]['auc']} / {s[m][HEADLINE]}" for m in models]
    gap = s["gap"]
    return f"| {label} | " + " | ".join(cells) + f" | {gap['mean']:+.2f} ({gap['min']:+.2f} to {gap['max']:+.2f}) |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--only", nargs="*", help="run only these rows (feature set or model names)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    started, cpu = time.perf_counter(), time.process_time()
    study, root = get("supply-chain").studies[0], data_root()
    cache = extras(data_file(supply_chain.SCMS_FILE, root))
    plan = [(f, "mlp 32 (scenario's)") for f in FEATURE_SETS] + [("the 69 before", m) for m in list(MODELS)[1:]]
    plan += [("+ all of the above", m) for m in list(MODELS)[1:]]
    plan += [(ADOPTED, m) for m in list(MODELS)[2:]]
    rows = []
    print("| features, model | federated AUC / recall | as held | true labels | honest only | "
          "AUC gap to true labels, points (seed range) |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for features, model in plan:
        if args.only and features not in args.only and model not in args.only:
            continue
        data = load(root, FEATURE_SETS[features], cache)
        carved = carve(data)
        s = summary([one(study, MODELS[model], carved, seed) for seed in range(args.seeds)])
        label = f"{features} ({data.organisations[0].X.shape[1]} columns), {model}"
        rows.append({"features": features, "model": model, **s})
        print(_row(label, s), flush=True)
    wall, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    print(f"\nseeds 0..{args.seeds - 1}; wall {wall:.1f} s, CPU {cpu_s:.1f} s, load average {os.getloadavg()[0]:.1f}")
    if args.out is not None:
        args.out.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
