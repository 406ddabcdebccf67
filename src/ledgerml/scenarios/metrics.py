"""The fields' measures as plain functions on labels and scores: ROC AUC, recall at a fixed precision, accuracy."""

from __future__ import annotations

import numpy as np


def roc_auc(y: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U, ties counted half); ``nan`` when only one class is present."""
    y = np.asarray(y).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    positives, negatives = int(y.sum()), int((~y).sum())
    if positives == 0 or negatives == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    # average ranks over ties (1-based)
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], len(scores)]
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = (start + end + 1) / 2.0
    u = ranks[y].sum() - positives * (positives + 1) / 2.0
    return float(u / (positives * negatives))


def recall_at_precision(y: np.ndarray, scores: np.ndarray, precision: float) -> float:
    """The highest recall of any score threshold whose precision is at least ``precision`` (0 if none is)."""
    y = np.asarray(y).astype(bool)
    positives = int(y.sum())
    if positives == 0:
        return float("nan")
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="mergesort")
    sorted_scores = np.asarray(scores, dtype=np.float64)[order]
    hits = np.cumsum(y[order])
    flagged = np.arange(1, len(y) + 1)
    last_of_tie = np.r_[sorted_scores[1:] != sorted_scores[:-1], True]  # a threshold takes whole ties
    ok = last_of_tie & (hits / flagged >= precision)
    return float(hits[ok].max() / positives) if ok.any() else 0.0


def precision_crossings(y: np.ndarray, scores: np.ndarray, precision: float) -> int:
    """How often the precision of the top-scored rows falls from at least ``precision`` to below it, as the
    threshold walks down the scores (whole ties at a time): more than one crossing means the recall at that
    precision can jump between far-apart thresholds when a few rows change."""
    y = np.asarray(y).astype(bool)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="mergesort")
    sorted_scores = np.asarray(scores, dtype=np.float64)[order]
    last_of_tie = np.r_[sorted_scores[1:] != sorted_scores[:-1], True]
    above = (np.cumsum(y[order]) / np.arange(1, len(y) + 1) >= precision)[last_of_tie]
    return int((above[:-1] & ~above[1:]).sum())


def accuracy(y: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> float:
    """Share of rows whose score is on the right side of ``threshold``."""
    return float(((np.asarray(scores) >= threshold) == np.asarray(y).astype(bool)).mean())


def binary_measures(y: np.ndarray, scores: np.ndarray, precision: float) -> dict[str, float]:
    """AUC, recall at ``precision`` and accuracy at 0.5, rounded to 4 places, keyed as the reports show them."""
    return {
        "auc": round(roc_auc(y, scores), 4),
        f"recall_at_precision_{precision:g}": round(recall_at_precision(y, scores, precision), 4),
        "accuracy": round(accuracy(y, scores), 4),
    }
