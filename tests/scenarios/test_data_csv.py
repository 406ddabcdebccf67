"""``ml.data`` CSV partitions: class labels stay integers (same bytes as before), regression targets floats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledgerml.errors import ConfigError
from ledgerml.federated.config import FederationConfig
from ledgerml.ml import data as data_module
from ledgerml.ml.models import build_model
from ledgerml.scenarios import baselines
from ledgerml.scenarios.base import Organisation, StudyData


def test_integer_labels_round_trip_as_integers(tmp_path: Path) -> None:
    X = np.array([[0.5, -1.25], [1e-300, 3.0]])
    path = data_module.write_csv(tmp_path / "a.csv", X, np.array([1, 0], dtype=np.int64))
    assert path.read_text().splitlines()[1:] == ["0.5,-1.25,1", "1e-300,3.0,0"]
    X2, y2 = data_module.read_csv(path)
    assert y2.dtype == np.int64 and y2.tolist() == [1, 0] and np.array_equal(X2, X)


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=1, max_size=20))
def test_float_targets_round_trip_exactly(tmp_path_factory: pytest.TempPathFactory, targets: list[float]) -> None:
    path = tmp_path_factory.mktemp("csv") / "r.csv"
    y = np.array(targets, dtype=np.float64)
    data_module.write_csv(path, np.zeros((len(y), 1)), y)
    _, back = data_module.read_csv(path)
    assert back.dtype == np.float64 and np.array_equal(back, y)


def test_own_is_no_bundled_set() -> None:
    with pytest.raises(ConfigError, match="organisations' own partitions"):
        data_module.load(data_module.OWN)


def test_baselines_train_on_pooled_and_own_rows() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(np.int64)
    test = rng.normal(size=(100, 3))
    data = StudyData(
        [Organisation("a", X[:100], y[:100]), Organisation("b", X[100:], y[100:])],
        X[:10], y[:10], test, (test[:, 0] > 0).astype(np.int64), 2, "halves", "generated",
    )  # fmt: skip
    federation = FederationConfig(dataset=data_module.OWN, participants=2, rounds=5, epochs=1, lr=0.5)

    def measures(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
        return {"accuracy": float(((scores > 0.5) == labels).mean())}

    assert baselines.centralised(federation, data, measures)["accuracy"] > 0.9
    assert [r["accuracy"] > 0.8 for r in baselines.local_only(federation, data, measures)] == [True, True]


def test_baselines_take_every_setting_from_the_config() -> None:
    """A setting the study leaves out is the federation's own default (one home), not a copy in the baselines."""
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(60, 2)), rng.integers(0, 2, 60)
    data = StudyData([Organisation("a", X, y)], X[:5], y[:5], X[:5], y[:5], 2, "one", "generated")
    config = FederationConfig(dataset=data_module.OWN, participants=2, rounds=3, epochs=2)
    spec = baselines.model_spec(config, data)
    assert spec == {**FederationConfig().model, "n_features": 2, "n_classes": 2, "seed": FederationConfig().seed}
    model = build_model(spec)
    defaults = FederationConfig()
    model.fit(X, y, epochs=6, lr=defaults.lr, batch_size=defaults.batch_size, rng=np.random.default_rng(defaults.seed))
    trained = baselines.train(spec, config, X, y)
    assert all(np.array_equal(trained[k], v) for k, v in model.get_weights().items())
