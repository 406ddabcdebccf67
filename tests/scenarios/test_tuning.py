"""Settings are chosen on rows carved from the organisations' training rows, with a ledger-free simulation that
ends on the very weights the ledger run registers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledgerml.federated.runner import weights_of
from ledgerml.home import Home
from ledgerml.scenarios import cybersecurity, get
from ledgerml.scenarios.base import Organisation, StudyData
from ledgerml.scenarios.runner import run_scenario
from ledgerml.scenarios.split import consortium_scaling, standardise
from ledgerml.scenarios.tuning import carve, rank_key, score, settings_grid, simulate, study_config

from ._generated import nsl_kdd_txt


def _data(sizes: list[int], seed: int = 0) -> StudyData:
    rng = np.random.default_rng(seed)
    organisations = []
    for index, n in enumerate(sizes):
        X = rng.normal(size=(n, 3)) + index
        organisations.append(Organisation(f"org{index}", X, (X[:, 0] > index).astype(np.int64)))
    X = np.zeros((4, 3))
    return StudyData(organisations, X, np.array([0, 1, 0, 1]), X, np.array([0, 1, 0, 1]), 2, "generated", "none")


@given(st.lists(st.integers(8, 60), min_size=1, max_size=4), st.integers(0, 3))
def test_carve_splits_each_organisation_and_never_uses_the_study_hold_outs(sizes: list[int], seed: int) -> None:
    data = _data(sizes, seed)
    carved = carve(data)
    assert [len(o.y) for o in carved.organisations] != sizes  # every organisation gave up some rows
    for mine, theirs in zip(carved.organisations, data.organisations, strict=True):
        rows = {tuple(r) for r in theirs.X}
        assert {tuple(r) for r in mine.X} <= rows
    pooled = np.concatenate([o.X for o in data.organisations])
    assert len(carved.y_val) + sum(len(o.y) for o in carved.organisations) == len(pooled)
    assert {tuple(r) for r in carved.X_val}.isdisjoint({tuple(r) for o in carved.organisations for r in o.X})
    assert not any((carved.X_val == 0).all(axis=1))  # the study's own validation/test rows (zeros) are not in it


def test_grid_sets_model_and_training_settings() -> None:
    base = {"rounds": 3, "model": {"type": "mlp", "hidden": 8}}
    grid = list(settings_grid(base, {"epochs": [1, 2], "hidden": [4, 16]}))
    assert [(g["epochs"], g["model"]["hidden"]) for g in grid] == [(1, 4), (1, 16), (2, 4), (2, 16)]
    assert base == {"rounds": 3, "model": {"type": "mlp", "hidden": 8}}  # not changed in place


def test_rank_follows_the_headline_measure_and_its_direction() -> None:
    study = get("cybersecurity").studies[0]
    better = {"auc": 0.9, "recall_at_precision_0.95": 0.8}
    worse = {"auc": 0.99, "recall_at_precision_0.95": 0.7}
    assert rank_key(study, better) < rank_key(study, worse)  # its headline is AUC
    assert rank_key(study, better, "recall_at_precision_0.95") > rank_key(study, worse, "recall_at_precision_0.95")
    rul = get("iot").studies[0]
    assert rul.lower_is_better
    assert rank_key(rul, {rul.headline: 10.0}) > rank_key(rul, {rul.headline: 20.0})


def test_score_reports_federated_and_centralised_on_the_carved_rows() -> None:
    data = _data([40, 40, 40])
    study = get("cybersecurity").studies[0]
    federation = {"rounds": 2, "rule": "fedavg", "lr": 0.1}
    scored = score(study, federation, data, carve(data))
    assert set(scored) == {"federated", "centralised"}
    assert set(scored["federated"]) == set(scored["centralised"]) == {"auc", "recall_at_precision_0.95", "accuracy"}


@pytest.mark.slow
def test_simulation_ends_on_the_registered_model(tmp_path: Path) -> None:
    """The simulation is the ledger run's arithmetic: same local training, attack, rule; same final weights."""
    nsl_kdd_txt(tmp_path / "data")
    settings = {"rounds": 2, "valuation": {}}
    result = run_scenario("cybersecurity", tmp_path / "home", root=tmp_path / "data", settings=settings, report=False)
    registered = weights_of(Home(tmp_path / "home"), result.studies[0].model_id)
    data = cybersecurity.load_intrusion(tmp_path / "data")
    config = study_config({**cybersecurity.FEDERATION, **settings}, data.organisations)
    simulated = simulate(config, data.organisations, data.n_classes)
    assert sorted(simulated) == sorted(registered)
    for name, array in registered.items():
        np.testing.assert_allclose(simulated[name], array, rtol=0, atol=1e-12)


@given(
    st.lists(st.integers(1, 30), min_size=1, max_size=5),
    st.floats(-1e3, 1e3),
    st.floats(1e-3, 1e3),
    st.integers(0, 100),
)
def test_consortium_scaling_is_the_pooled_statistics(sizes: list[int], shift: float, spread: float, seed: int) -> None:
    """Combined from each organisation's count, means and squared deviations: the pooled rows' mean and
    deviation, without pooling the rows."""
    rng = np.random.default_rng(seed)
    parts = [shift + spread * rng.normal(size=(n, 3)) for n in sizes]
    pooled = np.concatenate(parts)
    mean, std = consortium_scaling(parts)
    np.testing.assert_allclose(mean, pooled.mean(axis=0), rtol=1e-9, atol=1e-9 * max(1.0, abs(shift)))
    expected = np.where(pooled.std(axis=0) > 1e-9 * np.maximum(1.0, np.abs(pooled.mean(axis=0))), pooled.std(axis=0), 1)
    np.testing.assert_allclose(std, expected, rtol=1e-6)


def test_a_constant_column_is_only_centred() -> None:
    parts = [np.full((4, 1), 641.82), np.full((7, 1), 641.82)]
    scaled = standardise(parts, np.array([[642.82]]))
    assert consortium_scaling(parts)[1].tolist() == [1.0]
    assert [p.tolist() for p in scaled] == [[[0.0]] * 4, [[0.0]] * 7, [[1.0]]]
