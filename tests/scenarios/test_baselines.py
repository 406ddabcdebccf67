"""The baselines train on the rows as the organisations hold them (faulty labels flipped, as the participant
trains on them); where labels are faulty, the true-label and honest-only pooled models are reference lines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ledgerml.federated.config import FederationConfig
from ledgerml.ml.data import OWN
from ledgerml.scenarios import baselines
from ledgerml.scenarios.base import Organisation, Study, StudyData
from ledgerml.scenarios.report import reference_rows
from ledgerml.scenarios.results import StudyResult


def _data() -> StudyData:
    rng = np.random.default_rng(0)
    orgs = []
    for index in range(3):
        X = rng.normal(size=(80, 3))
        orgs.append(Organisation(f"org{index}", X, (X[:, 0] > 0).astype(np.int64)))
    test = rng.normal(size=(60, 3))
    return StudyData(orgs, test[:6], np.zeros(6, np.int64), test, (test[:, 0] > 0).astype(np.int64), 2, "g", "g")


def _config(attack: str) -> FederationConfig:
    return FederationConfig(dataset=OWN, participants=3, rounds=3, lr=0.5, attack=attack, attackers=[1])


def _accuracy(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    return {"accuracy": float(((scores > 0.5) == labels).mean())}


def test_faulty_records_are_flipped_as_the_participant_trains_on_them() -> None:
    data = _data()
    held = baselines.as_held(_config("label_flip"), data)
    assert np.array_equal(held[1].y, 1 - data.organisations[1].y)
    assert all(np.array_equal(held[i].y, data.organisations[i].y) for i in (0, 2))
    assert all(held[i].X is data.organisations[i].X for i in range(3))


@pytest.mark.parametrize("attack", ["none", "sign_flip", "gaussian_noise", "free_ride", "scaling"])
def test_update_attacks_leave_the_rows_and_add_no_reference(attack: str) -> None:
    data, config = _data(), _config(attack)
    assert baselines.faulty(config) == []
    held = baselines.as_held(config, data)
    assert all(np.array_equal(h.y, o.y) for h, o in zip(held, data.organisations, strict=True))
    assert baselines.references(config, data, _accuracy) == {}


def test_faulty_labels_hurt_the_baseline_and_the_references_show_both_sides() -> None:
    data, config = _data(), _config("label_flip")
    held = baselines.centralised(config, data, _accuracy)["accuracy"]
    refs = baselines.references(config, data, _accuracy)
    assert set(refs) == {baselines.REFERENCE_TRUE_LABELS, baselines.REFERENCE_HONEST_ONLY}
    assert refs[baselines.REFERENCE_TRUE_LABELS]["accuracy"] > held
    assert refs[baselines.REFERENCE_HONEST_ONLY]["accuracy"] > held
    clean = baselines.centralised(_config("none"), data, _accuracy)
    assert clean == refs[baselines.REFERENCE_TRUE_LABELS]  # the true-label line is the old clean baseline
    local = baselines.local_only(config, data, _accuracy)
    assert local[1]["accuracy"] < 0.5 < min(local[0]["accuracy"], local[2]["accuracy"])


def test_report_lists_each_reference_beside_the_federated_value() -> None:
    study = Study("s", "S", lambda root: None, {}, lambda y, s: {})  # type: ignore[arg-type,return-value]
    refs = {"centralised, true labels": {"m": 0.9}, "centralised, honest organisations only": {"m": 0.8}}
    result = StudyResult(study, "t", {"m": 0.85}, {"m": 0.7}, [], [], [], "x", Path("x"), references=refs)
    assert reference_rows(result) == [
        ["centralised, true labels", "m", 0.85, 0.9],
        ["centralised, honest organisations only", "m", 0.85, 0.8],
    ]
