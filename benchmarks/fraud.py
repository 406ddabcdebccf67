"""Fraud detection on the shared Ethereum accounts data: grouped stratified 5-fold (duplicated addresses in
one fold), ledgerml's detector beside two references in the same run, with and without missing-value signals.

References: a 300-tree RandomForest with missing values set to 0 (the published setting), and scikit-learn's
HistGradientBoostingClassifier out of the box (native missing-value handling). "No missing signal": every
model sees missing values filled with 0 and no missing indicators, so it cannot learn from data-collection
gaps (missing ERC20 statistics are far more common among illicit rows).

Usage: python benchmarks/fraud.py [--data ../shared/data/ethereum_fraud/accounts_train.csv]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from ledgerml.analytics import FraudDetector, cross_validate, read_accounts

DEFAULT = Path(os.environ.get("LEDGERML_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=str(DEFAULT / "ethereum_fraud" / "accounts_train.csv"))
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "fraud.json"))
    args = parser.parse_args()
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

    table = read_accounts(args.data, require_label=True)
    missing_share = float(table.features.isna().any(axis=1).mean())
    assert table.labels is not None
    illicit_missing = float(table.features[table.labels == 1].isna().any(axis=1).mean())
    ordinary_missing = float(table.features[table.labels == 0].isna().any(axis=1).mean())

    def fill(frame: Any) -> Any:
        return frame.fillna(0.0)

    models: dict[str, tuple[Any, Any]] = {
        "ledgerml FraudDetector (LightGBM, Platt, F1 threshold)": (
            lambda: FraudDetector(missing="native"),  # "no missing signal" runs it with missing="zero"
            None,
        ),
        "RandomForest 300 trees, missing = 0 (reference)": (
            lambda: RandomForestClassifier(300, n_jobs=1, random_state=0),
            fill,
        ),
        "HistGradientBoosting out of the box (reference)": (
            lambda: HistGradientBoostingClassifier(random_state=0),
            None,
        ),
    }
    results: dict[str, Any] = {
        "accounts": len(table.addresses),
        "illicit": int(table.labels.sum()),
        "rows_with_missing": missing_share,
        "illicit_rows_with_missing": illicit_missing,
        "ordinary_rows_with_missing": ordinary_missing,
        "runs": {},
    }
    for signal in ("with missing-value signal", "no missing signal (filled with 0)"):
        for name, (make, prepare) in models.items():
            if signal.startswith("no"):
                prepare = fill
                if name.startswith("ledgerml"):
                    make = lambda: FraudDetector(missing="zero")  # noqa: E731
            result = cross_validate(table, make, prepare=prepare)
            results["runs"][f"{signal} | {name}"] = result
            print(
                f"{signal} | {name}: F1 {result['mean_f1']:.4f} PR-AUC {result['mean_pr_auc']:.4f} "
                f"ROC-AUC {result['mean_roc_auc']:.4f} train {result['mean_train_seconds']:.1f}s",
                flush=True,
            )
    detector = FraudDetector().fit(table.features, table.labels)
    big = table.features.sample(200_000, replace=True, random_state=0)
    started = time.perf_counter()
    detector.predict_proba(big)
    results["scoring_accounts_per_s"] = len(big) / (time.perf_counter() - started)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(
        f"\n{results['accounts']} accounts, {results['illicit']} illicit; rows with any missing value: "
        f"{100 * illicit_missing:.0f}% of illicit, {100 * ordinary_missing:.0f}% of ordinary\n"
    )
    print("| setting | model | F1 (illicit) | PR-AUC | ROC-AUC | train s / fold |\n|---|---|---|---|---|---|")
    for key, r in results["runs"].items():
        signal, name = key.split(" | ")
        print(
            f"| {signal} | {name} | {r['mean_f1']:.4f} | {r['mean_pr_auc']:.4f} | {r['mean_roc_auc']:.4f} | "
            f"{r['mean_train_seconds']:.1f} |"
        )
    print(f"\nscoring throughput: {results['scoring_accounts_per_s']:,.0f} accounts/s (one thread)")


if __name__ == "__main__":
    main()
