"""Healthcare: hospitals train diagnosis models together on scikit-learn's bundled clinical data sets -
breast-cancer biopsies (Wisconsin diagnostic, malignant vs benign) and diabetes progression (binarised)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .base import Scenario, Study, StudyData
from .metrics import binary_measures
from .split import dirichlet_groups, study_data

HOSPITALS = ["st-mary", "north-general", "riverside", "lakeview", "hillcrest"]
FAULTY = 2  # riverside: a broken preprocessing pipeline sends noise
DIABETES_THRESHOLD = 140.0
"""Diabetes: progression one year on above this (the bundled set's median is 140.5) is the positive class."""
AGE_BANDS = 4
LICENSE = "scikit-learn bundled data (BSD-3); UCI Wisconsin diagnostic breast cancer / Efron et al. diabetes"


def load_breast_cancer(root: Path) -> StudyData:
    """569 biopsies over 5 hospitals with Dirichlet(1.0) case-mix skew; label 1 = malignant."""
    from sklearn import datasets

    bunch = datasets.load_breast_cancer()
    y = (bunch.target == 0).astype(np.int64)  # sklearn: 0 = malignant
    groups = dirichlet_groups(y, len(HOSPITALS), 1.0, seed=0)
    return study_data(
        bunch.data,
        y,
        groups,
        HOSPITALS,
        split_rule="case mix: each class spread over the 5 hospitals with Dirichlet(1.0) shares (seed 0)",
        license=LICENSE,
    )


def load_diabetes(root: Path) -> StudyData:
    """442 patients over 4 hospitals by age band (quartiles); label 1 = progression above 140."""
    from sklearn import datasets

    bunch = datasets.load_diabetes(scaled=False)
    y = (bunch.target > DIABETES_THRESHOLD).astype(np.int64)
    age = bunch.data[:, 0]
    groups = np.searchsorted(np.quantile(age, [0.25, 0.5, 0.75]), age, side="right")
    return study_data(
        bunch.data,
        y,
        groups,
        HOSPITALS[:AGE_BANDS],
        split_rule="patient age: hospital i takes age quartile i (a paediatric-to-geriatric skew)",
        license=LICENSE,
    )


def _federation(rounds: int) -> dict[str, object]:
    """Trimmed mean against a faulty hospital that sends noise; rewards with stake and slashing."""
    return {
        "rule": "trimmed_mean",
        "rule_params": {"beta": 0.25},
        "rounds": rounds,
        "epochs": 2,
        "lr": 0.1,
        "batch_size": 16,
        "attack": "gaussian_noise",
        "attackers": [FAULTY],
        "reward_pool": 1000 * rounds,
        "stake": 100,
        "initial_tokens": 100,
        "valuation": {"method": "leave_one_out"},
    }


def measures(y: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """AUC, recall (sensitivity) at precision 0.9 and accuracy."""
    return binary_measures(y, scores, 0.9)


SCENARIO = Scenario(
    name="healthcare",
    title="hospitals: breast-cancer diagnosis and diabetes progression",
    studies=(
        Study("breast_cancer", "breast cancer (malignant)", load_breast_cancer, _federation(15), measures),
        Study(
            "diabetes",
            "diabetes progression above 140",
            load_diabetes,
            {**_federation(15), "attackers": [1]},
            measures,
        ),
    ),
)
