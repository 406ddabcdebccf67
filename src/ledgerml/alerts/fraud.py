"""Fraud-score alerts: a registered (supervised) fraud detector's flagged accounts become signed alerts whose
explanation holds each account's TreeSHAP contributions; the model's files and the scored table go into the
artifact store so ``audit alert`` recomputes score and SHAP values. Unsupervised scores raise no alerts: they are
near chance on the fraud accounts (issue 15)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, LedgerMLError, NotFound, TamperDetected

if TYPE_CHECKING:
    from ..home import Home
    from .audit import AuditContext, Rederived

RULE = "the calibrated probability reached the decision threshold the model chose on held-out data"
MAX_ALERTS = 50
"""Most accounts one run raises alerts for (highest scores first)."""


def _explain(detector: Any, rows: Any, index: int, top: int) -> dict[str, Any]:
    """Score and TreeSHAP contributions of row ``index``."""
    from ..analytics.workflows import top_contributions

    row = rows.iloc[[index]]
    contributions = detector.explain(row).iloc[0]
    return {
        "score": float(detector.predict_proba(row)[0, 1]),
        "shap": {
            "base_log_odds": float(contributions["(base)"]),
            "contributions": top_contributions(contributions, row.iloc[0], top),
        },
    }


def _explanation(
    model: dict[str, Any], data: dict[str, Any], index: int, address: str, top: int, shap: Any
) -> dict[str, Any]:
    return {
        "method": "fraud.treeshap",
        "model": model,
        "input": {**data, "row": index, "address": address},
        "top": top,
        "shap": shap,
        "rule": RULE,
    }


def raise_fraud_alerts(
    home: Home, data: Path, model: Path, *, acting: str | None = None, top: int = 10, limit: int = MAX_ALERTS
) -> list[dict[str, Any]]:
    """Score ``data`` with the registered ``model``; sign one explained alert per flagged account (at most
    ``limit``, highest first). Returns rows: address, score, threshold, alert_id."""
    from ..analytics.accounts import read_accounts
    from ..analytics.artifacts import folder_digest, read_registered_folder
    from ..analytics.detector import DETECTOR_FOLDER, FraudDetector
    from ..analytics.workflows import align_features
    from .api import raise_alert
    from .chain import check_signer

    if top < 1 or limit < 1:
        raise ConfigError("--top and --limit must be at least 1")
    identity = check_signer(home, acting)
    files = read_registered_folder(model, DETECTOR_FOLDER, home)
    detector, model_id = FraudDetector.from_files(files, source=str(model)), folder_digest(files)
    accounts = read_accounts(data, require_label=False)
    rows = align_features(accounts, detector, data)
    scores = detector.predict_proba(rows)[:, 1]
    flagged = [i for i in sorted(range(len(scores)), key=lambda i: -scores[i]) if scores[i] >= detector.threshold_]
    store = home.store()
    model_doc = {"id": model_id, "files": {name: str(store.put(blob)) for name, blob in sorted(files.items())}}
    data_doc = {"digest": str(store.put_file(data)), "name": data.name}
    out = []
    with home.open_ledger() as ledger:
        for i in flagged[:limit]:
            address = str(accounts.addresses.iloc[i])
            shap = _explain(detector, rows, i, top)
            receipt = raise_alert(
                ledger,
                store,
                identity,
                detector=model_id,
                subject={"type": "account", "id": address},
                score=shap["score"],
                threshold=float(detector.threshold_),
                decision="alert",
                explanation=_explanation(model_doc, data_doc, i, address, top, shap["shap"]),
            )
            out.append({"address": address, "score": shap["score"], "alert_id": receipt.event_id})
        if ledger.validator is not None and out:
            ledger.seal()
    return out


def rederive(ctx: AuditContext, explanation: dict[str, Any]) -> Rederived:
    """Rebuild the detector from its stored files (checked: registered on the ledger), re-read the stored table,
    and recompute the account's score and TreeSHAP contributions."""
    from ..analytics.accounts import read_accounts
    from ..analytics.artifacts import folder_digest
    from ..analytics.detector import FraudDetector
    from ..analytics.workflows import align_features
    from ..vocab.core import model as registered_model
    from .audit import Rederived

    try:
        model, data = explanation["model"], explanation["input"]
        files = {name: ctx.store.get(digest) for name, digest in model["files"].items()}
        index, top, address = int(data["row"]), int(explanation["top"]), str(data["address"])
        suffix = Path(str(data["name"])).suffix or ".csv"
        table = ctx.store.get(data["digest"])
    except LedgerMLError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError):
        raise TamperDetected("the explanation lacks the model's files, the scored table or the row") from None
    model_id = folder_digest(files)
    if model_id != model.get("id") or registered_model(ctx.state, model_id) is None:
        raise NotFound(f"the stored model files ({model_id}) are not the model registered on this ledger")
    detector = FraudDetector.from_files(files, source="the stored model")
    with tempfile.TemporaryDirectory(prefix="ledgerml-alert-") as tmp:
        path = Path(tmp) / f"table{suffix}"
        path.write_bytes(table)
        accounts = read_accounts(path, require_label=False)
        rows = align_features(accounts, detector, path)
    if not 0 <= index < len(rows) or str(accounts.addresses.iloc[index]) != address:
        raise TamperDetected(f"row {index} of the stored table is not account {address}")
    shap = _explain(detector, rows, index, top)
    again = _explanation(model, {"digest": data["digest"], "name": data["name"]}, index, address, top, shap["shap"])
    return Rederived(shap["score"], float(detector.threshold_), "alert", again)
