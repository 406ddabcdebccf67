"""Finance: banks predict credit-card default next month together (UCI default of credit card clients,
Taiwan, 30,000 clients), split by the client segment a bank serves; the chain side scores Ethereum accounts
with the project's fraud detector."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from .base import Scenario, Study, StudyData
from .dataroot import data_file
from .metrics import binary_measures
from .split import study_data
from .tables import impute_median, numeric, signed_log, with_header

CREDIT_FILE = "domains/finance/UCI_Credit_Card.csv"
FRAUD_FILE = "ethereum_fraud/accounts_train.csv"
LABEL = "default.payment.next.month"
AMOUNTS = ["LIMIT_BAL", *(f"BILL_AMT{i}" for i in range(1, 7)), *(f"PAY_AMT{i}" for i in range(1, 7))]
OTHER = ["SEX", "EDUCATION", "MARRIAGE", "AGE", "PAY_0", *(f"PAY_{i}" for i in range(2, 7))]
BANKS = ["bank-graduate", "bank-university", "bank-highschool", "bank-other"]
EDUCATION_BANK = {1: 0, 2: 1, 3: 2}
"""EDUCATION 1 (graduate school), 2 (university), 3 (high school); 0, 4, 5, 6 (other/unknown) -> bank-other."""
FREE_RIDER = 2
PRECISION = 0.5


def read_credit(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features (amounts signed-log scaled, missing values at the column median), labels and EDUCATION."""
    header, body = with_header(path, [LABEL, *AMOUNTS, *OTHER])
    names = AMOUNTS + OTHER
    X = numeric(path, body, [header.index(n) for n in names], names, 2)
    y = numeric(path, body, [header.index(LABEL)], [LABEL], 2)[:, 0]
    if np.isnan(y).any() or not set(np.unique(y)) <= {0.0, 1.0}:
        raise ConfigError(f"{path}: column {LABEL} must be 0 or 1 in every row")
    X = impute_median(X)
    education = X[:, names.index("EDUCATION")].astype(np.int64)
    X[:, : len(AMOUNTS)] = signed_log(X[:, : len(AMOUNTS)])
    return X, y.astype(np.int64), education


def load_credit(root: Path) -> StudyData:
    """The clients split over four banks by EDUCATION (the segment each bank serves)."""
    X, y, education = read_credit(data_file(CREDIT_FILE, root))
    groups = np.array([EDUCATION_BANK.get(int(e), 3) for e in education], dtype=np.int64)
    return study_data(
        X,
        y,
        groups,
        BANKS,
        split_rule="client segment: EDUCATION 1 -> bank-graduate, 2 -> bank-university, 3 -> bank-highschool, "
        "0/4/5/6 -> bank-other",
        license="CC BY 4.0 (UCI Machine Learning Repository, doi:10.24432/C55S3H)",
    )


def measures(y: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """AUC, recall at precision 0.5 and accuracy."""
    return binary_measures(y, scores, PRECISION)


def chain_side(context: Any) -> dict[str, Any]:
    """The project's fraud detector on the Ethereum accounts: 3-fold grouped cross-validated AUC and F1
    (skipped, and said so, when the accounts file is absent)."""
    try:
        path = data_file(FRAUD_FILE, context.root)
    except ConfigError as exc:
        return {"chain side: Ethereum fraud detector": f"not run: {exc}"}
    from ..analytics.workflows import evaluate_fraud_detector

    evaluation = evaluate_fraud_detector(path, folds=3)
    result = evaluation.cross_validation
    return {
        "chain side: Ethereum accounts scored": evaluation.accounts,
        "chain side: fraud detector ROC AUC (3-fold CV)": round(float(result.get("mean_roc_auc", float("nan"))), 4),
        "chain side: fraud detector F1 (3-fold CV)": round(float(result.get("mean_f1", float("nan"))), 4),
    }


FEDERATION: dict[str, Any] = {
    "rule": "fedavg",
    "rounds": 10,
    "epochs": 1,
    "lr": 0.05,
    "batch_size": 64,
    "model": {"type": "mlp", "hidden": 16},
    "attack": "free_ride",
    "attackers": [FREE_RIDER],
    "reward_pool": 10_000,
    "stake": 100,
    "initial_tokens": 100,
    "valuation": {"method": "leave_one_out"},
}

SCENARIO = Scenario(
    name="finance",
    title="banks: credit-card default next month",
    studies=(
        Study(
            "credit",
            "credit-card default next month",
            load_credit,
            FEDERATION,
            measures,
            notes=("bank-highschool free-rides: it returns the global model unchanged every round",),
        ),
    ),
    analytics=chain_side,
)
