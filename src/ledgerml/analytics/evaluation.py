"""Fold-by-fold evaluation of a binary classifier, over any splits; ``cross_validate`` uses grouped, stratified
k-fold: accounts with the same address always fall in the same fold, so a duplicated account cannot be trained
on and tested on at once."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score, roc_auc_score

from .accounts import AccountTable
from .splits import Fold, grouped_stratified_folds


def classification_scores(y: np.ndarray, predicted: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    """F1 (positive class), PR-AUC, ROC-AUC, precision and recall of one test set."""
    return {
        "f1": f1_score(y, predicted),
        "pr_auc": average_precision_score(y, p),
        "roc_auc": roc_auc_score(y, p),
        "precision": precision_score(y, predicted),
        "recall": recall_score(y, predicted),
    }


def evaluate_folds(
    X: pd.DataFrame,
    y: np.ndarray,
    make: Callable[[], Any],
    splits: Iterable[Fold],
    *,
    prepare: Callable[[Any], Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Fit a fresh ``make()`` on each fold's training rows and score its test rows; per-fold scores, seconds
    to train, and their means (``mean_<name>``). ``progress(done)`` is called after each fold."""
    rows = []
    for train, test in splits:
        model = make()
        x_train, x_test = X.iloc[train], X.iloc[test]
        if prepare is not None:
            x_train, x_test = prepare(x_train), prepare(x_test)
        started = time.perf_counter()
        model.fit(x_train, y[train])
        seconds = time.perf_counter() - started
        p = model.predict_proba(x_test)[:, 1]
        rows.append({**classification_scores(y[test], model.predict(x_test), p), "train_seconds": seconds})
        if progress is not None:
            progress(len(rows))
    return {"folds": rows, **{f"mean_{k}": float(np.mean([r[k] for r in rows])) for k in rows[0]}}


def cross_validate(
    table: AccountTable,
    make: Callable[[], Any],
    *,
    folds: int = 5,
    seed: int = 0,
    prepare: Callable[[Any], Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """F1 (illicit class), PR-AUC, ROC-AUC, precision and recall per fold and their means; seconds to train."""
    assert table.labels is not None
    splits = grouped_stratified_folds(table.labels, table.addresses.to_numpy(), folds=folds, seed=seed)
    return evaluate_folds(table.features, table.labels, make, splits, prepare=prepare, progress=progress)
