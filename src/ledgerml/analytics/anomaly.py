"""Unsupervised detection for when there are no labels: an IsolationForest fitted on the accounts being
scored, on sign(x)·log(1 + |x|) of the features (missing filled with 0) - on raw, heavy-tailed account
statistics the forest ranks planted laundering accounts no better than chance. Scores are in [0, 1], higher is
more anomalous."""

from __future__ import annotations

import numpy as np
import pandas as pd


def anomaly_scores(
    features: pd.DataFrame, *, contamination: float | str = "auto", random_state: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``(scores, flagged)``: min-max scaled anomaly scores and the forest's outlier flags."""
    from sklearn.ensemble import IsolationForest

    raw_values = features.fillna(0.0).to_numpy(dtype=np.float64)
    data = np.sign(raw_values) * np.log1p(np.abs(raw_values))  # account statistics are heavy-tailed
    forest = IsolationForest(n_estimators=300, contamination=contamination, random_state=random_state).fit(data)
    raw = -forest.score_samples(data)
    span = raw.max() - raw.min()
    scores = (raw - raw.min()) / span if span > 0 else np.zeros_like(raw)
    return scores, (forest.predict(data) == -1).astype(np.int64)
