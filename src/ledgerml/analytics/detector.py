"""The fraud detector: a LightGBM classifier with a stated missing-value policy, isotonic calibration on
held-out data, a decision threshold chosen on that data, and per-account TreeSHAP explanations.

scikit-learn conventions (hyperparameters as ``__init__`` keywords, learned state ending in ``_``, ``fit``
returns ``self``). Saved as LightGBM's text model plus JSON - never pickled.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.model_selection import train_test_split

from .._json import loads_bounded
from ..errors import ConfigError
from .artifacts import FolderFormat, check_params, is_number, read_folder, write_folder

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
        named = frame if isinstance(X, pd.DataFrame) else frame.to_numpy()  # as fitted: no name warning
        _, y = validate_data(self, named, y, ensure_all_finite="allow-nan", reset=False)
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
        model_text = self.booster_.model_to_string()
        return write_folder(folder, {MODEL_TXT: model_text, DETECTOR_JSON: json.dumps(meta, indent=2, sort_keys=True)})

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> FraudDetector:
        """Read a detector written by :meth:`save`, validating both files before LightGBM sees them."""
        return cls.from_files(read_detector_files(folder), source=str(folder))

    @classmethod
    def from_files(cls, files: dict[str, bytes], *, source: str = "the model") -> FraudDetector:
        """Build a detector from the bytes of ``detector.json`` and ``model.txt`` (see :func:`read_detector_files`).

        Both are checked first (JSON bounds and schema; the tree text's structure against the feature count),
        then the text is parsed by LightGBM in a child process, so a file that would crash native code ends in
        a one-line ``ConfigError`` instead; only then is it loaded here.
        """
        import lightgbm as lgb

        meta = loads_bounded(
            files[DETECTOR_JSON],
            what=f"{source}/{DETECTOR_JSON}",
            max_bytes=MAX_DETECTOR_JSON_BYTES,
            max_depth=MAX_DETECTOR_JSON_DEPTH,
            error=ConfigError,
        )
        detector = cls._from_meta(meta, source)
        text = _check_model_text(files[MODEL_TXT], len(detector.columns_), source)
        _probe_in_child(text, len(detector.columns_), source)
        detector.booster_ = lgb.Booster(model_str=text)
        if detector.booster_.num_feature() != len(detector.columns_):
            found = detector.booster_.num_feature()
            raise ConfigError(f"{source}/{MODEL_TXT} expects {found} features, not {len(detector.columns_)}")
        return detector

    @classmethod
    def _from_meta(cls, meta: Any, source: str) -> FraudDetector:
        """A detector with everything but the booster, from checked ``detector.json`` data."""
        where = f"{source}/{DETECTOR_JSON}"
        if not isinstance(meta, dict):
            raise ConfigError(f"{where} must hold a JSON object")
        if meta.get("format") != FORMAT:
            raise ConfigError(f"{source} holds an unknown detector format {str(meta.get('format'))[:60]!r}")
        detector = cls(**check_params(cls().get_params(), meta.get("params"), where, cls.__name__))
        detector._check()
        features = _checked_features(meta.get("features"), where)
        expected_columns = features + ([f"{f} (missing)" for f in features] if detector.missing == "indicator" else [])
        if meta.get("columns") != expected_columns:
            raise ConfigError(f"{where}: 'columns' do not follow from the features and the missing-value policy")
        calibration = _checked_calibration(meta.get("calibration"), where)
        threshold: Any = meta.get("threshold")
        if not is_number(threshold) or not 0.0 <= float(threshold) <= 1.0:
            raise ConfigError(f"{where}: 'threshold' must be a number from 0 to 1")
        classes = _checked_classes(meta.get("classes", [0, 1]), where)
        detector.features_, detector.columns_ = list(features), list(expected_columns)
        detector.calibration_ = dict(calibration)
        detector.threshold_ = float(threshold)
        detector.classes_ = np.asarray(classes)
        detector.n_features_in_ = len(detector.features_)
        if not all(f.startswith("x") and f[1:].isdigit() for f in detector.features_):
            detector.feature_names_in_ = np.asarray(detector.features_, dtype=object)
        return detector


def _checked_features(features: Any, where: str) -> list[str]:
    """Saved feature names: 1 to ``MAX_FEATURES`` distinct non-empty strings of at most 256 characters."""
    if (
        not isinstance(features, list)
        or not 0 < len(features) <= MAX_FEATURES
        or not all(isinstance(f, str) and 0 < len(f) <= 256 for f in features)
        or len(set(features)) != len(features)
    ):
        raise ConfigError(f"{where}: 'features' must be 1 to {MAX_FEATURES} distinct names")
    return features


def _checked_calibration(calibration: Any, where: str) -> dict[str, Any]:
    """A saved sigmoid (finite ``a``, ``b``) or isotonic (sorted finite ``x``, ``y`` in [0, 1]) calibration."""
    if not isinstance(calibration, dict) or calibration.get("kind") not in ("sigmoid", "isotonic"):
        raise ConfigError(f"{where}: 'calibration' must be a sigmoid or isotonic calibration")
    if calibration["kind"] == "sigmoid":
        if set(calibration) != {"kind", "a", "b"} or not all(is_number(calibration[k]) for k in "ab"):
            raise ConfigError(f"{where}: a sigmoid calibration needs finite numbers 'a' and 'b'")
        return calibration
    xs, ys = calibration.get("x"), calibration.get("y")
    if (
        set(calibration) != {"kind", "x", "y"}
        or not isinstance(xs, list)
        or not isinstance(ys, list)
        or not 0 < len(xs) == len(ys) <= MAX_CALIBRATION_POINTS
        or not all(is_number(v) for v in xs + ys)
        or any(b < a for a, b in itertools.pairwise(xs))
        or not all(0.0 <= v <= 1.0 for v in ys)
    ):
        raise ConfigError(f"{where}: an isotonic calibration needs sorted finite 'x' and 'y' in [0, 1]")
    return calibration


def _checked_classes(classes: Any, where: str) -> list[Any]:
    """Two distinct saved labels (numbers or strings, no bools)."""
    if (
        not isinstance(classes, list)
        or len(classes) != 2
        or classes[0] == classes[1]
        or not all(isinstance(c, int | float | str) and not isinstance(c, bool) for c in classes)
    ):
        raise ConfigError(f"{where}: 'classes' must be two distinct labels")
    return classes


DETECTOR_JSON = "detector.json"
MODEL_TXT = "model.txt"
MAX_DETECTOR_JSON_BYTES = 64 << 20
"""Largest ``detector.json`` read (64 MiB: isotonic calibrations can hold many points)."""
MAX_DETECTOR_JSON_DEPTH = 8
"""Deepest nesting accepted in ``detector.json`` (the format needs 3 levels)."""
MAX_MODEL_TXT_BYTES = 512 << 20
"""Largest LightGBM ``model.txt`` read (512 MiB)."""
MAX_FEATURES = 100_000
"""Most feature names a saved detector may declare."""
MAX_CALIBRATION_POINTS = 1_000_000
"""Most points of a saved isotonic calibration."""
PROBE_TIMEOUT_SECONDS = 300
"""How long the child process that test-loads a ``model.txt`` may take."""


DETECTOR_FOLDER = FolderFormat(
    files={DETECTOR_JSON: MAX_DETECTOR_JSON_BYTES, MODEL_TXT: MAX_MODEL_TXT_BYTES},
    kind="a fraud model",
    saved="fraud detector",
    saved_short="detector",
    needs="model.txt and detector.json",
    made_by="fraud train",
)
"""A saved detector: exactly ``detector.json`` and ``model.txt``, size-bounded."""


def read_detector_files(folder: str | os.PathLike[str]) -> dict[str, bytes]:
    """The bytes of a saved detector's two files, read once (size-bounded); the folder must hold only them."""
    return read_folder(folder, DETECTOR_FOLDER)


_TREE_ARRAYS = {
    "split_feature": ("int", -1),
    "threshold": ("float", -1),
    "decision_type": ("int", -1),
    "left_child": ("int", -1),
    "right_child": ("int", -1),
    "leaf_value": ("float", 0),
}


def _not_nan(value: float) -> bool:
    return not math.isnan(value)


def _check_model_text(raw: bytes, n_columns: int, source: str) -> str:
    """Check a LightGBM text model's structure (header, every tree's arrays and child links, the end marker)."""
    where = f"{source}/{MODEL_TXT}"

    def bad(reason: str) -> ConfigError:
        return ConfigError(f"{where} is not a valid LightGBM model: {reason}")

    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise bad("it is not ASCII text") from None
    head, sep, _ = text.partition("\nend of trees\n")
    if not sep:
        raise bad("no 'end of trees' line (truncated?)")
    blocks = head.split("\n\n")
    header = dict(line.split("=", 1) for line in blocks[0].splitlines()[1:] if "=" in line)
    if not blocks[0].startswith("tree\n") or not header.get("version", "").startswith("v"):
        raise bad("it does not start with a LightGBM header")
    expected = {"num_class": "1", "num_tree_per_iteration": "1", "max_feature_idx": str(n_columns - 1)}
    for key, value in expected.items():
        if header.get(key) != value:
            raise bad(f"{key} is {str(header.get(key))[:20]!r}, expected {value}")
    if not header.get("objective", "").startswith("binary"):
        raise bad("the objective is not binary")
    if len(header.get("feature_names", "").split(" ")) != n_columns:
        raise bad(f"it does not name {n_columns} features")
    trees = [b.strip("\n") for b in blocks[1:] if b.strip("\n")]
    sizes = header.get("tree_sizes", "").split(" ") if header.get("tree_sizes") else []
    if sizes and len(sizes) != len(trees):
        raise bad(f"tree_sizes names {len(sizes)} trees, the file holds {len(trees)}")
    if not trees:
        raise bad("it holds no trees")
    for index, block in enumerate(trees):
        fields = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if fields.get("Tree") != str(index):
            raise bad(f"tree {index} is missing or out of order")
        try:
            leaves = int(fields.get("num_leaves", ""))
            if not 1 <= leaves <= 1 << 20 or int(fields.get("num_cat", "0")) != 0:
                raise ValueError
            arrays: dict[str, list[float]] = {}
            for name, (kind, offset) in _TREE_ARRAYS.items():
                items = fields.get(name, "").split()
                if leaves == 1 and offset == -1:
                    continue
                convert = int if kind == "int" else float
                values = [convert(v) for v in items]
                finite = math.isfinite if name != "threshold" else _not_nan  # LightGBM writes inf thresholds
                if len(values) != leaves + offset or not all(finite(v) for v in values):
                    raise ValueError
                arrays[name] = values
        except ValueError:
            raise bad(f"tree {index} has malformed or inconsistent arrays") from None
        if leaves > 1:
            if not all(0 <= f < n_columns for f in arrays["split_feature"]):
                raise bad(f"tree {index} splits on a feature the model does not have")
            links = arrays["left_child"] + arrays["right_child"]
            if not all(-leaves <= c <= leaves - 2 for c in links) or len(set(links)) != len(links):
                raise bad(f"tree {index} has child links out of range")
    return text


_PROBE = """
import sys
import numpy as np
import lightgbm as lgb
booster = lgb.Booster(model_str=sys.stdin.read())
n = int(sys.argv[1])
assert booster.num_feature() == n, "feature count"
booster.predict(np.zeros((2, n)), raw_score=True)
booster.predict(np.full((1, n), np.nan), raw_score=True)
"""


def _probe_in_child(text: str, n_columns: int, source: str) -> None:
    """Load and run the model once in a child process: a file that crashes LightGBM crashes only the child."""
    import subprocess
    import sys

    try:
        result = subprocess.run(
            [sys.executable, "-c", _PROBE, str(n_columns)],
            input=text,
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ConfigError(f"{source}/{MODEL_TXT}: LightGBM did not load it within {PROBE_TIMEOUT_SECONDS} s") from None
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        reason = lines[-1][:200] if lines else f"exit status {result.returncode}"
        raise ConfigError(f"{source}/{MODEL_TXT} is not a model LightGBM can load: {reason}")
