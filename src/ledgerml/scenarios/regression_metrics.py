"""The regression fields' measures as plain functions: RMSE, MAE and the PHM08 (NASA) scoring function."""

from __future__ import annotations

import numpy as np


def rmse(y: np.ndarray, prediction: np.ndarray) -> float:
    """Root mean squared error."""
    error = np.asarray(prediction, dtype=np.float64) - np.asarray(y, dtype=np.float64)
    return float(np.sqrt(np.mean(error**2)))


def mae(y: np.ndarray, prediction: np.ndarray) -> float:
    """Mean absolute error."""
    return float(np.mean(np.abs(np.asarray(prediction, dtype=np.float64) - np.asarray(y, dtype=np.float64))))


def nasa_scores(y: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """The PHM08 score of each prediction, d = predicted - true RUL: exp(-d/13) - 1 when early (d < 0),
    exp(d/10) - 1 when late (d >= 0): a late prediction (the engine fails first) costs more."""
    d = np.asarray(prediction, dtype=np.float64) - np.asarray(y, dtype=np.float64)
    return np.where(d < 0, np.exp(-d / 13.0) - 1.0, np.exp(np.minimum(d, 700.0) / 10.0) - 1.0)


def nasa_score(y: np.ndarray, prediction: np.ndarray) -> float:
    """The PHM08 score averaged per prediction (the challenge sums it over its test engines)."""
    return float(np.mean(nasa_scores(y, prediction)))
