"""Fraud detection as library workflows: evaluate, train (cross-validate, fit, save, register), load a registered
model, score and explain accounts. The CLI and the REST service call these and only parse and print."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import ConfigError, NotFound
from .accounts import AccountTable, read_accounts
from .artifacts import check_can_register, check_model_out, read_registered_folder, save_and_register
from .detector import DETECTOR_FOLDER, FraudDetector
from .evaluation import cross_validate
from .features import TRANSACTION_FEATURES

SCHEMAS = ("table", "transactions")
"""Feature schemas a detector can be trained on: every numeric column of the table, or only the columns
``fraud features`` computes from transactions (so the model can score its output)."""

Progress = Callable[[int, int], None]
"""``progress(done, total)``: called as cross-validation folds and the final fit finish."""

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


def _check_settings(folds: int, missing: str, schema: str) -> None:
    """The options' values, before any data is read."""
    from .detector import MISSING_POLICIES

    if folds < 2:
        raise ConfigError("--folds must be at least 2")
    if missing not in MISSING_POLICIES:
        raise ConfigError(f"--missing must be one of {', '.join(MISSING_POLICIES)}, not {missing!r}")
    if schema not in SCHEMAS:
        raise ConfigError(f"--schema must be one of {', '.join(SCHEMAS)}, not {schema!r}")


def select_schema(accounts: AccountTable, schema: str, data: Path) -> AccountTable:
    """The table's features under ``schema``: all of them (``table``), or only those ``fraud features`` writes."""
    if schema == "table":
        return accounts
    kept = [c for c in accounts.features.columns if c in TRANSACTION_FEATURES]
    if not kept:
        raise ConfigError(f"{data} has none of the columns 'fraud features' computes; use --schema table")
    return replace(accounts, features=accounts.features[kept])


def align_features(accounts: AccountTable, detector: FraudDetector, data: Path) -> Any:
    """The table's columns the model was trained on, in its order (other columns are ignored); ``ConfigError``
    naming the absent ones, and saying when 'fraud features' cannot compute them."""
    needed = list(detector.features_)
    absent = [f for f in needed if f not in accounts.features.columns]
    if absent:
        shown = ", ".join(repr(a) for a in absent[:3]) + (f" and {len(absent) - 3} more" if len(absent) > 3 else "")
        underivable = [a for a in absent if a not in TRANSACTION_FEATURES]
        hint = (
            "; 'fraud features' cannot compute them from transactions: train with --schema transactions to use only "
            "the columns it writes"
            if underivable
            else ""
        )
        raise ConfigError(f"{data} lacks {len(absent)} column(s) the model was trained on: {shown}{hint}")
    return accounts.features[needed]


def _counting(progress: Progress | None, total: int) -> Callable[[int], None] | None:
    return None if progress is None else (lambda done: progress(done, total))


def evaluate_fraud_detector(
    data: Path, *, folds: int = 5, missing: str = "native", schema: str = "table", progress: Progress | None = None
) -> FraudEvaluation:
    """Grouped stratified k-fold evaluation (duplicated addresses stay in one fold)."""
    _check_settings(folds, missing, schema)
    accounts = select_schema(read_accounts(data, require_label=True), schema, data)
    result = cross_validate(
        accounts, lambda: FraudDetector(missing=missing), folds=folds, progress=_counting(progress, folds)
    )
    return FraudEvaluation(len(accounts.addresses), result)


def train_fraud_detector(
    data: Path,
    model_out: Path,
    *,
    missing: str = "native",
    folds: int = 5,
    schema: str = "table",
    home: Home | None = None,
    acting: str | None = None,
    progress: Progress | None = None,
) -> FraudTrainingResult:
    """Cross-validate, train on every row, save to ``model_out`` and, with a ``home``, register the data (if
    new) and the model with its cross-validated metrics, signed by ``acting``. Options, output folder, data and
    the signer's roles are checked before training; nothing half-written is left."""
    check_model_out(model_out)
    _check_settings(folds, missing, schema)
    accounts = select_schema(read_accounts(data, require_label=True), schema, data)
    if home is not None:
        check_can_register(home, acting, data, "fraud train")
    result = cross_validate(
        accounts, lambda: FraudDetector(missing=missing), folds=folds, progress=_counting(progress, folds + 1)
    )
    assert accounts.labels is not None
    detector = FraudDetector(missing=missing).fit(accounts.features, accounts.labels)
    if progress is not None:
        progress(folds + 1, folds + 1)
    summary = {k: v for k, v in result.items() if k.startswith("mean_")}

    def save(data_id: str | None) -> None:
        extra: dict[str, Any] = {"cross_validation": summary, "feature_schema": schema}
        if data_id is not None:
            extra["training_data"] = data_id
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
    return _score(data, model, home, unregistered=unregistered).frame


@dataclass(frozen=True)
class _Scored:
    """Scores of every account, with the detector, its model id and the rows it saw (None: unsupervised)."""

    frame: pd.DataFrame
    detector: FraudDetector | None
    model_id: str | None
    rows: Any


def _score(data: Path, model: Path | None, home: Home, *, unregistered: bool) -> _Scored:
    """Score the accounts of ``data`` with ``model`` (or an IsolationForest when it is None)."""
    from .anomaly import anomaly_scores
    from .artifacts import folder_digest

    detector, model_id, rows = None, None, None
    if model is not None:
        files = read_registered_folder(model, DETECTOR_FOLDER, home, unregistered=unregistered)
        detector, model_id = FraudDetector.from_files(files, source=str(model)), folder_digest(files)
    accounts = read_accounts(data, require_label=False)
    if detector is not None:
        rows = align_features(accounts, detector, data)
        p = detector.predict_proba(rows)[:, 1]
        flags = (p >= detector.threshold_).astype(int)
    else:
        p, flags = anomaly_scores(accounts.features)
    frame = pd.DataFrame({"Address": accounts.addresses, "score": p, "flagged": flags})
    return _Scored(frame, detector, model_id, rows)


FRAUD_SCORES_FOLDER = Path("analytics") / "fraud-scores"
"""Where ``fraud score`` keeps its reports, inside the home."""
REPORT_TOP = 50
"""Most flagged accounts a fraud-score report lists (and explains)."""
REPORT_CONTRIBUTIONS = 5
"""Feature contributions kept per listed account."""


def _number(value: Any) -> float | None:
    """A finite float, or None (missing, NaN, infinite or not a number)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def top_contributions(contributions: pd.Series, row: pd.Series, top: int) -> list[dict[str, Any]]:
    """The ``top`` largest (by magnitude) TreeSHAP contributions of one row, as report entries."""
    ranked = contributions.drop("(base)").sort_values(key=abs, ascending=False)[:top]
    return [
        {
            "feature": str(name),
            "value": _number(row.get(str(name).removesuffix(" (missing)"))),
            "contribution": float(v),
        }
        for name, v in ranked.items()
    ]


def _flagged_top(scored: _Scored) -> list[dict[str, Any]]:
    """The flagged accounts, highest score first (at most ``REPORT_TOP``), with their top contributions."""
    frame = scored.frame.reset_index(drop=True)
    flagged = frame[frame["flagged"] == 1].sort_values("score", ascending=False, kind="stable")[:REPORT_TOP]
    explained: dict[int, list[dict[str, Any]]] = {}
    if scored.detector is not None and len(flagged):
        rows = scored.rows.iloc[flagged.index.to_numpy()]
        contributions = scored.detector.explain(rows)
        for i, index in enumerate(flagged.index):
            explained[int(index)] = top_contributions(contributions.iloc[i], rows.iloc[i], REPORT_CONTRIBUTIONS)
    return [
        {"address": str(r.Address), "score": float(r.score), "explanation": explained.get(int(i), [])}
        for i, r in flagged.iterrows()
    ]


def score_report(
    data: Path, model: Path | None, home: Home, *, out: Path, unregistered: bool = False
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Score ``data`` (see ``score_accounts``) and build the report ``fraud score --json`` prints and the home
    keeps: counts, the threshold and the top flagged accounts with their top TreeSHAP contributions."""
    import hashlib
    from datetime import UTC, datetime

    scored = _score(data, model, home, unregistered=unregistered)
    with data.open("rb") as handle:
        data_digest = hashlib.file_digest(handle, "sha256").hexdigest()
    frame, flagged = scored.frame, int(scored.frame["flagged"].sum())
    threshold = None if scored.detector is None else float(scored.detector.threshold_)
    document = {
        "accounts": len(frame),
        "scored": len(frame),
        "flagged": flagged,
        "out": str(out),
        "model_id": scored.model_id,
        "data_digest": f"sha256:{data_digest}",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "threshold": threshold,
        "top": _flagged_top(scored),
    }
    return frame, document


def keep_score_report(home: Home, document: dict[str, Any]) -> Path | None:
    """Write a ``score_report`` document atomically to ``HOME/analytics/fraud-scores/<UTC time>-<model>.json``
    (None: the home folder does not exist, so there is nowhere to keep it)."""
    import json

    from .._files import replace_atomically
    from ..errors import StorageError

    if not home.path.is_dir():
        return None

    stamp = str(document["time"]).replace("-", "").replace(":", "").replace(".", "")
    model_id = document["model_id"]
    short = "unsupervised" if model_id is None else str(model_id).removeprefix("sha256:")[:12]
    folder = home.path / FRAUD_SCORES_FOLDER
    path = folder / f"{stamp}-{short}.json"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        replace_atomically(path, json.dumps(document, indent=2, sort_keys=True).encode())
    except OSError as exc:
        raise StorageError(f"cannot keep the score report in {folder}: {exc.strerror or exc}") from None
    return path


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
    row = align_features(accounts, detector, data)[matches.to_numpy()].iloc[[0]]
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


METRICS = ("f1", "pr_auc", "roc_auc", "precision", "recall")


def write_training_report(
    trained: FraudTrainingResult, data: Path, path: Path, *, home: Home | None, command: str, settings: dict[str, Any]
) -> Path:
    """``fraud train --report``: header (date, version, ledger id, settings), the cross-validation fold by fold
    and on average, the threshold, the features the model takes, where it is registered."""
    from .._html import ReportMeta, table, write_page

    ledger_id = "(not registered)"
    if home is not None:
        with home.open_ledger(as_validator=False) as ledger:
            ledger_id = ledger.ledger_id
    result = trained.cross_validation
    folds = [
        [i + 1, *[f"{fold[k]:.4f}" for k in METRICS], f"{fold['train_seconds']:.1f}"]
        for i, fold in enumerate(result["folds"])
    ]
    folds.append(["mean", *[f"{result['mean_' + k]:.4f}" for k in METRICS], f"{result['mean_train_seconds']:.1f}"])
    model: list[list[Any]] = [
        ["data", str(data)],
        ["model folder", str(trained.model)],
        ["model id", trained.model_id or "(not registered)"],
        ["decision threshold", f"{trained.threshold:.4f}"],
        ["features", len(trained.detector.features_)],
    ]
    sections = [
        ("Cross-validation (grouped, stratified)", table(["fold", *METRICS, "train s"], folds)),
        ("Model", table(["what", "value"], model)),
        ("Features the model takes", table(["feature"], [[f] for f in trained.detector.features_])),
    ]
    meta = ReportMeta(command=command, ledger_id=ledger_id, settings=settings)
    return write_page(path, f"ledgerml fraud detector trained on {data.name}", meta, sections)
