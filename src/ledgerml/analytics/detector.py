"""The fraud detector: a LightGBM classifier with a stated missing-value policy, isotonic calibration on
held-out data, a decision threshold chosen on that data, and per-account TreeSHAP explanations.

scikit-learn conventions (hyperparameters as ``__init__`` keywords, learned state ending in ``_``, ``fit``
returns ``self``). Saved as LightGBM's text model plus JSON - never pickled.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.model_selection import train_test_split

from ..errors import ConfigError, NotFound

MISSING_POLICIES = ("native", "zero", "indicator")
FORMAT = "ledgerml-fraud-detector/v1"


def prepare(frame: pd.DataFrame, features: list[str], missing: str) -> pd.DataFrame:
    """Apply the missing-value policy: ``native`` keeps NaN for the trees' own handling, ``zero`` fills 0
    (the public data set's habit), ``indicator`` fills 0 and adds one is-missing column per feature."""
    absent = [f for f in features if f not in frame.columns]
    if absent:
        raise ConfigError(f"the data lacks {len(absent)} feature column(s) the model needs: {absent[:5]}")
    data = frame[features].astype(np.float64)
    if missing == "native":
        return data
    filled = data.fillna(0.0)
    if missing == "zero":
        return filled
    flags = data.isna().astype(np.float64).add_suffix(" (missing)")
    return pd.concat([filled, flags], axis=1)


class FraudDetector(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Gradient-boosted trees for illicit-account detection."""

    def __init__(
        self,
        n_estimators: int = 400,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        missing: str = "native",
        calibration: str = "sigmoid",
        refit: bool = True,
        threshold: str = "f1",
        target_precision: float = 0.95,
        validation_fraction: float = 0.2,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.missing = missing
        self.calibration = calibration
        self.refit = refit
        self.threshold = threshold
        self.target_precision = target_precision
        self.validation_fraction = validation_fraction
        self.random_state = random_state

    def _check(self) -> None:
        if self.missing not in MISSING_POLICIES:
            raise ConfigError(f"missing must be one of {MISSING_POLICIES}")
        if self.calibration not in ("sigmoid", "isotonic"):
            raise ConfigError("calibration must be 'sigmoid' (Platt; keeps the ranking) or 'isotonic'")
        if self.threshold not in ("f1", "precision"):
            raise ConfigError("threshold must be 'f1' (best F1) or 'precision' (reach target_precision)")

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.classifier_tags.multi_class = False
        return tags

    def _frame(self, X: Any, *, reset: bool) -> pd.DataFrame:
        """Validate ``X`` (array or DataFrame; NaN allowed) and return it as a DataFrame with feature names."""
        from sklearn.utils.validation import validate_data

        names = list(X.columns) if isinstance(X, pd.DataFrame) else None
        array = validate_data(self, X, reset=reset, ensure_all_finite="allow-nan", dtype=np.float64)
        if reset:
            self.features_ = [str(c) for c in names] if names is not None else [f"x{i}" for i in range(array.shape[1])]
        return pd.DataFrame(array, columns=self.features_, index=X.index if isinstance(X, pd.DataFrame) else None)

    def _train(self, x: pd.DataFrame, y: np.ndarray) -> Any:
        import lightgbm as lgb

        params = {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "seed": self.random_state,
            "verbose": -1,
            "deterministic": True,
            "num_threads": 1,
            "min_data_in_leaf": max(1, min(20, len(y) // 10)),
        }
        return lgb.train(params, lgb.Dataset(x, y), num_boost_round=self.n_estimators)

    def fit(self, X: Any, y: Any) -> FraudDetector:
        """Train on one part; calibrate and choose the threshold on the held-out part; then (``refit``)
        retrain the trees on all rows, keeping that calibration and threshold. Two classes only."""
        from sklearn.utils.multiclass import check_classification_targets
        from sklearn.utils.validation import validate_data

        self._check()
        frame = self._frame(X, reset=True)
        _, y = validate_data(self, frame.to_numpy(), y, ensure_all_finite="allow-nan", reset=False)
        check_classification_targets(y)
        self.classes_, encoded = np.unique(y, return_inverse=True)
        if len(self.classes_) != 2:
            raise ValueError(
                f"Only binary classification is supported. FraudDetector got {len(self.classes_)} classes."
            )
        y = encoded.astype(np.int64)
        data = prepare(frame, self.features_, self.missing)
        self.columns_ = list(data.columns)
        try:
            train_x, held_x, train_y, held_y = train_test_split(
                data, y, test_size=self.validation_fraction, stratify=y, random_state=self.random_state
            )
        except ValueError:  # too few rows of a class to hold some out: calibrate on the training rows
            train_x, held_x, train_y, held_y = data, data, y, y
        self.booster_ = self._train(train_x, np.asarray(train_y))
        margin = self.booster_.predict(held_x, raw_score=True)
        if self.calibration == "sigmoid":
            from sklearn.linear_model import LogisticRegression

            platt = LogisticRegression(C=1e6).fit(margin.reshape(-1, 1), held_y)
            self.calibration_ = {"kind": "sigmoid", "a": float(platt.coef_[0, 0]), "b": float(platt.intercept_[0])}
        else:
            iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(margin, held_y)
            self.calibration_ = {"kind": "isotonic", "x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}
        self.threshold_ = self._choose_threshold(self._calibrate(margin), np.asarray(held_y))
        if self.refit:
            self.booster_ = self._train(data, np.asarray(y))
        return self

    def _calibrate(self, margin: np.ndarray) -> np.ndarray:
        c: dict[str, Any] = self.calibration_
        if c["kind"] == "sigmoid":
            return np.asarray(1.0 / (1.0 + np.exp(-(c["a"] * margin + c["b"]))))
        xs, ys = np.asarray(c["x"], dtype=np.float64), np.asarray(c["y"], dtype=np.float64)
        return np.asarray(np.interp(margin, xs, ys), dtype=np.float64)

    def _choose_threshold(self, p: np.ndarray, y: np.ndarray) -> float:
        best, best_score = 0.5, -1.0
        for t in np.unique(p):
            predicted = p >= t
            tp = float((predicted & (y == 1)).sum())
            precision = tp / max(float(predicted.sum()), 1.0)
            recall = tp / max(float((y == 1).sum()), 1.0)
            if self.threshold == "f1":
                score = 0.0 if tp == 0 else 2 * precision * recall / (precision + recall)
            else:
                score = recall if precision >= self.target_precision else -1.0
            if score > best_score:
                best, best_score = float(t), score
        return best

    def predict_proba(self, X: Any) -> np.ndarray:
        """Calibrated probabilities of [``classes_[0]``, ``classes_[1]``] (ordinary, illicit)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "booster_")
        frame = self._frame(X, reset=False)
        p = self._calibrate(self.booster_.predict(prepare(frame, self.features_, self.missing), raw_score=True))
        return np.column_stack([1 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        """``classes_[1]`` where the calibrated probability reaches the chosen threshold."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "booster_")
        return np.asarray(self.classes_[(self.predict_proba(X)[:, 1] >= self.threshold_).astype(np.int64)])

    def explain(self, X: Any) -> pd.DataFrame:
        """TreeSHAP contributions (log-odds) of every feature for every row; column ``(base)`` is the bias."""
        frame = self._frame(X, reset=False)
        contributions = self.booster_.predict(prepare(frame, self.features_, self.missing), pred_contrib=True)
        return pd.DataFrame(contributions, columns=[*self.columns_, "(base)"], index=frame.index)

    def save(self, folder: str | os.PathLike[str], extra: dict[str, Any] | None = None) -> Path:
        """Write ``model.txt`` (LightGBM) and ``detector.json`` into ``folder``."""
        target = Path(folder)
        target.mkdir(parents=True, exist_ok=True)
        (target / "model.txt").write_text(self.booster_.model_to_string())
        meta = {
            "format": FORMAT,
            "params": self.get_params(),
            "features": self.features_,
            "columns": self.columns_,
            "calibration": self.calibration_,
            "threshold": self.threshold_,
            "classes": self.classes_.tolist(),
            **(extra or {}),
        }
        (target / "detector.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
        return target

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> FraudDetector:
        """Read a detector written by :meth:`save`."""
        import lightgbm as lgb

        target = Path(folder)
        try:
            meta = json.loads((target / "detector.json").read_text())
            text = (target / "model.txt").read_text()
        except OSError:
            raise NotFound(f"{target} is not a saved fraud detector (needs model.txt and detector.json)") from None
        if meta.get("format") != FORMAT:
            raise ConfigError(f"{target} holds an unknown detector format {meta.get('format')!r}")
        detector = cls(**meta["params"])
        detector.features_, detector.columns_ = meta["features"], meta["columns"]
        detector.booster_ = lgb.Booster(model_str=text)
        detector.calibration_ = meta["calibration"]
        detector.threshold_ = float(meta["threshold"])
        detector.classes_ = np.asarray(meta.get("classes", [0, 1]))
        detector.n_features_in_ = len(detector.features_)
        if not all(f.startswith("x") and f[1:].isdigit() for f in detector.features_):
            detector.feature_names_in_ = np.asarray(detector.features_, dtype=object)
        return detector
