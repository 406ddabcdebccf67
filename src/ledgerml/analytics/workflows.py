"""Fraud detection as library workflows: evaluate, train (cross-validate, fit, save, register), load a registered
model, score and explain accounts. The CLI and the REST service call these and only parse and print."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import ConfigError, NotFound
from .accounts import read_accounts
from .artifacts import check_model_out, read_registered_folder, save_and_register
from .detector import DETECTOR_FOLDER, FraudDetector
from .evaluation import cross_validate

if TYPE_CHECKING:
    from ..home import Home


@dataclass(frozen=True)
class FraudEvaluation:
    """A grouped stratified k-fold report of the detector on a labelled account table."""

    accounts: int
    cross_validation: dict[str, Any]


@dataclass(frozen=True)
class FraudTrainingResult:
    """A trained, saved and (when a home was given) registered fraud detector."""

    model: Path
    model_id: str | None
    cross_validation: dict[str, Any]
    detector: FraudDetector

    @property
    def summary(self) -> dict[str, Any]:
        """The cross-validated means (``mean_f1``, ``mean_pr_auc``, ...)."""
        return {k: v for k, v in self.cross_validation.items() if k.startswith("mean_")}

    @property
    def threshold(self) -> float:
        """The decision threshold chosen on held-out data."""
        return float(self.detector.threshold_)


@dataclass(frozen=True)
class Contribution:
    """One feature's TreeSHAP contribution to an account's score, and the account's value of it."""

    feature: str
    log_odds: float
    value: Any


@dataclass(frozen=True)
class AccountExplanation:
    """What drove one account's score: its largest contributions first."""

    address: str
    score: float
    flagged: bool
    base_log_odds: float
    contributions: list[Contribution]


def _check_folds(folds: int) -> None:
    if folds < 2:
        raise ConfigError("--folds must be at least 2")


def evaluate_fraud_detector(data: Path, *, folds: int = 5, missing: str = "native") -> FraudEvaluation:
    """Grouped stratified k-fold evaluation (duplicated addresses stay in one fold)."""
    _check_folds(folds)
    accounts = read_accounts(data, require_label=True)
    result = cross_validate(accounts, lambda: FraudDetector(missing=missing), folds=folds)
    return FraudEvaluation(len(accounts.addresses), result)


def train_fraud_detector(
    data: Path,
    model_out: Path,
    *,
    missing: str = "native",
    folds: int = 5,
    home: Home | None = None,
    acting: str | None = None,
) -> FraudTrainingResult:
    """Cross-validate, train on every row, save to ``model_out`` and, with a ``home``, register the data (if
    new) and the model with its cross-validated metrics, signed by ``acting``. Nothing half-written is left."""
    check_model_out(model_out)
    _check_folds(folds)
    accounts = read_accounts(data, require_label=True)
    result = cross_validate(accounts, lambda: FraudDetector(missing=missing), folds=folds)
    assert accounts.labels is not None
    detector = FraudDetector(missing=missing).fit(accounts.features, accounts.labels)
    summary = {k: v for k, v in result.items() if k.startswith("mean_")}

    def save(data_id: str | None) -> None:
        extra = (
            {"cross_validation": summary}
            if data_id is None
            else {"training_data": data_id, "cross_validation": summary}
        )
        detector.save(model_out, extra)

    model_id = save_and_register(
        save, model_out, data=data, metrics=result, name=f"fraud detector ({data.name})", home=home, acting=acting
    )
    return FraudTrainingResult(model_out, model_id, result, detector)


def load_fraud_detector(model: Path, home: Home, *, unregistered: bool = False) -> FraudDetector:
    """Load a ``fraud train`` folder: its digest must be a model registered on the home's ledger (unless
    ``unregistered``), and both files are validated before LightGBM parses them (in a child process first)."""
    files = read_registered_folder(model, DETECTOR_FOLDER, home, unregistered=unregistered)
    return FraudDetector.from_files(files, source=str(model))


def score_accounts(data: Path, model: Path | None, home: Home, *, unregistered: bool = False) -> pd.DataFrame:
    """``Address, score, flagged`` for every account: the model's calibrated probability and its flag at the
    chosen threshold, or (no model) an IsolationForest's anomaly score in [0, 1] and outlier flag."""
    from .anomaly import anomaly_scores

    detector = None if model is None else load_fraud_detector(model, home, unregistered=unregistered)
    accounts = read_accounts(data, require_label=False)
    if detector is not None:
        p = detector.predict_proba(accounts.features)[:, 1]
        flags = (p >= detector.threshold_).astype(int)
    else:
        p, flags = anomaly_scores(accounts.features)
    return pd.DataFrame({"Address": accounts.addresses, "score": p, "flagged": flags})


def explain_account(
    model: Path, data: Path, address: str, home: Home, *, top: int = 10, unregistered: bool = False
) -> AccountExplanation:
    """The ``top`` TreeSHAP contributions (log-odds) behind one account's score, largest first."""
    if top < 1:
        raise ConfigError("--top must be at least 1")
    detector = load_fraud_detector(model, home, unregistered=unregistered)
    accounts = read_accounts(data, require_label=False)
    matches = accounts.addresses.str.lower() == address.lower()
    if not matches.any():
        raise NotFound(f"address {address} is not in {data}")
    row = accounts.features[matches.to_numpy()].iloc[[0]]
    contributions = detector.explain(row).iloc[0]
    base = float(contributions.pop("(base)"))
    ranked = contributions.reindex(contributions.abs().sort_values(ascending=False).index)[:top]
    p = float(detector.predict_proba(row)[0, 1])
    return AccountExplanation(
        address=address,
        score=p,
        flagged=p >= detector.threshold_,
        base_log_odds=base,
        contributions=[
            Contribution(name, float(v), row.iloc[0].get(name.removesuffix(" (missing)"))) for name, v in ranked.items()
        ],
    )
