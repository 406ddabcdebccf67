"""Grouped, stratified k-fold evaluation: accounts with the same address always fall in the same fold, so a
duplicated account cannot be trained on and tested on at once."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score, roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold

from .accounts import AccountTable


def cross_validate(
    table: AccountTable,
    make: Callable[[], Any],
    *,
    folds: int = 5,
    seed: int = 0,
    prepare: Callable[[Any], Any] | None = None,
) -> dict[str, Any]:
    """F1 (illicit class), PR-AUC, ROC-AUC, precision and recall per fold and their means; seconds to train."""
    assert table.labels is not None
    X, y = table.features, table.labels
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    rows = []
    for train, test in splitter.split(X, y, table.addresses.to_numpy()):
        model = make()
        x_train, x_test = X.iloc[train], X.iloc[test]
        if prepare is not None:
            x_train, x_test = prepare(x_train), prepare(x_test)
        started = time.perf_counter()
        model.fit(x_train, y[train])
        seconds = time.perf_counter() - started
        p = model.predict_proba(x_test)[:, 1]
        predicted = model.predict(x_test)
        rows.append(
            {
                "f1": f1_score(y[test], predicted),
                "pr_auc": average_precision_score(y[test], p),
                "roc_auc": roc_auc_score(y[test], p),
                "precision": precision_score(y[test], predicted),
                "recall": recall_score(y[test], predicted),
                "train_seconds": seconds,
            }
        )
    return {"folds": rows, **{f"mean_{k}": float(np.mean([r[k] for r in rows])) for k in rows[0]}}
