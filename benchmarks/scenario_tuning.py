"""How the scenarios' federation settings were chosen: a small grid per study, each setting simulated without a
ledger (``scenarios.tuning``) and scored on a validation split carved from the training organisations' own
rows (25 %, stratified); the test rows the scenario tables report are never used. Rounds stay fixed (each
ledger round costs wall time); the grid varies local epochs, learning rate, batch and hidden width.

Usage: nice python benchmarks/scenario_tuning.py [NAME ...] [--out benchmarks/results/scenario_tuning.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from ledgerml.scenarios import get
from ledgerml.scenarios.dataroot import data_root
from ledgerml.scenarios.tuning import carve, rank_key, score, settings_grid

GRIDS: dict[str, tuple[str, dict[str, list[Any]]]] = {
    "supply-chain": (
        "recall_at_precision_0.3",
        {"epochs": [1, 2], "lr": [0.05, 0.1, 0.3], "batch_size": [32, 128], "hidden": [32]},
    ),
    "cybersecurity": (
        "recall_at_precision_0.95",
        {"epochs": [1, 2], "lr": [0.05, 0.2], "batch_size": [32, 64], "hidden": [16, 32]},
    ),
}
"""Per scenario: the measure settings are ranked by (the one that missed its target), and the grid."""
VARIED = ("epochs", "lr", "batch_size", "hidden")
ROW_KEYS = ("scenario", "setting", "federated", "centralised", "seconds")
"""A row's own keys; any other is a reference line (``baselines.references``) beside the centralised one."""


def tune(name: str) -> list[dict[str, Any]]:
    """Every grid setting's validation measures, best first (the first row is the choice)."""
    scenario, (by, choices) = get(name), GRIDS[name]
    study = scenario.studies[0]
    data = study.load(data_root())
    carved = carve(data)
    rows = []
    for federation in settings_grid(study.federation, choices):
        started = time.perf_counter()
        scored = score(study, federation, data, carved)
        setting = {k: federation["model"][k] if k == "hidden" else federation[k] for k in VARIED}
        seconds = round(time.perf_counter() - started, 1)
        rows.append({"scenario": name, "setting": setting, **scored, "seconds": seconds})
    return sorted(rows, key=lambda r: rank_key(study, r["federated"], by), reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"scenarios to tune [default: {', '.join(GRIDS)}]")
    parser.add_argument("--out", type=Path, help="also write the rows as JSON")
    args = parser.parse_args()
    rows = []
    for name in args.names or list(GRIDS):
        by = GRIDS[name][0]
        found = tune(name)
        rows += found
        print(f"\n{name}: ranked by validation {by} (first row chosen)\n")
        print("| epochs | lr | batch | hidden | fed AUC | fed " + by + " | cen AUC | cen " + by + " | s |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in found:
            s, f, c = r["setting"], r["federated"], r["centralised"]
            cells = [s["epochs"], s["lr"], s["batch_size"], s["hidden"], f["auc"], f[by], c["auc"], c[by], r["seconds"]]
            print("| " + " | ".join(map(str, cells)) + " |")
        for reference in (k for k in found[0] if k not in ROW_KEYS):
            print(f"\n{name}: reference line {reference!r}, first row's setting: {found[0][reference]}")
    if args.out is not None:
        args.out.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
