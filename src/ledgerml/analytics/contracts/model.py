"""The learned detector: a LightGBM multiclass model over unit features (category or "none"), saved as LightGBM's
own text format plus a JSON file of classes, thresholds and feature names: no pickle anywhere."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..._json import loads_bounded
from ...errors import ConfigError
from ..artifacts import FolderFormat, folder_digest, read_folder
from .categories import CATEGORIES
from .features import feature_names

MODEL_FILES = {"model.txt": 16 << 20, "meta.json": 1 << 20}
MODEL_FOLDER = FolderFormat(
    files=MODEL_FILES,
    kind="a contract model",
    saved="contract vulnerability model",
    saved_short="contract model",
    needs="model.txt and meta.json",
    made_by="contracts train",
)
CLASSES = ("none", *CATEGORIES)
DEFAULT_PARAMS: dict[str, Any] = {
    "num_boost_round": 40,
    "num_leaves": 15,
    "learning_rate": 0.15,
    "min_data_in_leaf": 10,
    "threshold": 0.5,
    "seed": 13,
}


class ContractModel:
    """Multiclass gradient boosting over unit feature rows; ``predict_proba`` -> (rows, len(CLASSES))."""

    booster_: Any
    meta_: dict[str, Any]
    id_: str | None = None

    def __init__(
        self,
        *,
        num_boost_round: int = 40,
        num_leaves: int = 15,
        learning_rate: float = 0.15,
        min_data_in_leaf: int = 10,
        threshold: float = 0.5,
        seed: int = 13,
    ) -> None:
        self.num_boost_round = num_boost_round
        self.num_leaves = num_leaves
        self.learning_rate = learning_rate
        self.min_data_in_leaf = min_data_in_leaf
        self.threshold = threshold
        self.seed = seed

    def get_params(self) -> dict[str, Any]:
        """The hyperparameters, as given."""
        return {key: getattr(self, key) for key in DEFAULT_PARAMS}

    def fit(self, features: np.ndarray, labels: list[str]) -> ContractModel:
        """Train on feature rows and their class names (``none`` or a category)."""
        import lightgbm as lgb

        y = np.asarray([CLASSES.index(label) for label in labels])
        params = {
            "objective": "multiclass",
            "num_class": len(CLASSES),
            "num_leaves": self.num_leaves,
            "learning_rate": self.learning_rate,
            "min_data_in_leaf": self.min_data_in_leaf,
            "seed": self.seed,
            "deterministic": True,
            "num_threads": 1,
            "verbose": -1,
        }
        data = lgb.Dataset(features, label=y, feature_name=_safe_names(), free_raw_data=True)
        self.booster_ = lgb.train(params, data, num_boost_round=self.num_boost_round)
        return self

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities for each row, columns in ``CLASSES`` order."""
        if len(features) == 0:
            return np.zeros((0, len(CLASSES)))
        return np.asarray(self.booster_.predict(features, num_threads=1))

    def files(self, extra: Mapping[str, Any] | None = None) -> dict[str, str]:
        """The saved folder's files: LightGBM text and JSON metadata."""
        meta = {
            "format": "ledgerml-contract-model/1",
            "classes": list(CLASSES),
            "features": feature_names(),
            "params": self.get_params(),
            **(extra or {}),
        }
        return {"model.txt": self.booster_.model_to_string(), "meta.json": json.dumps(meta, indent=1, sort_keys=True)}

    def save(self, folder: Path, extra: Mapping[str, Any] | None = None) -> None:
        """Write ``model.txt`` and ``meta.json`` into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        for name, body in self.files(extra).items():
            (folder / name).write_text(body)

    @classmethod
    def from_files(cls, files: Mapping[str, bytes], *, source: str) -> ContractModel:
        """Load a saved folder's bytes; ``ConfigError`` when the metadata does not match this version's features."""
        import lightgbm as lgb

        meta = loads_bounded(files["meta.json"], what=f"{source}/meta.json", max_bytes=MODEL_FILES["meta.json"])
        if not isinstance(meta, dict) or meta.get("format") != "ledgerml-contract-model/1":
            raise ConfigError(f"{source}/meta.json is not a ledgerml contract model")
        if meta.get("classes") != list(CLASSES) or meta.get("features") != feature_names():
            raise ConfigError(f"{source} was trained on other classes or features than this version computes")
        params = meta.get("params", {})
        if not isinstance(params, dict) or not set(params) <= set(DEFAULT_PARAMS):
            raise ConfigError(f"{source}/meta.json: 'params' must be an object of contract model parameters")
        model = cls(**params)
        try:
            model.booster_ = lgb.Booster(model_str=files["model.txt"].decode("utf-8"))
        except (lgb.basic.LightGBMError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{source}/model.txt is not a LightGBM model: {str(exc).splitlines()[0]}") from None
        if model.booster_.num_feature() != len(feature_names()):
            raise ConfigError(f"{source}/model.txt expects {model.booster_.num_feature()} features")
        model.meta_ = meta
        model.id_ = folder_digest(files)
        return model


def _safe_names() -> list[str]:
    """Feature names LightGBM accepts (no JSON specials): ``3_op__``; meta.json keeps the readable ones."""
    return [f"{i}_" + re.sub(r"[^0-9A-Za-z_]", "_", name) for i, name in enumerate(feature_names())]


def bundled_model_dir() -> Path:
    """The folder of the model shipped in the package (trained on the SolidiFI training split only)."""
    return Path(str(resources.files("ledgerml.analytics.contracts") / "bundled_model"))


def load_model(folder: Path | None = None) -> ContractModel:
    """A saved model (default: the bundled one)."""
    target = folder or bundled_model_dir()
    return ContractModel.from_files(read_folder(target, MODEL_FOLDER), source=str(target))
