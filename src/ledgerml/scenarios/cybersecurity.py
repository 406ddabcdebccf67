"""Cybersecurity: network sites train an intrusion detector together on NSL-KDD (``KDDTrain+_20Percent``;
the test files are held back, so validation and test rows are split from the training file), one site per
service group; a compromised site poisons its updates; the ledger is the tamper-evident security log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from .base import Scenario, Study, StudyData
from .dataroot import data_file
from .metrics import binary_measures
from .split import study_data
from .tables import numeric, read_rows, signed_log

NSL_KDD_FILE = "domains/cybersecurity/KDDTrain+_20Percent.txt"
COLUMNS = 43
"""41 features, the label (attack name or ``normal``) and the difficulty level (not a feature)."""
PROTOCOL, SERVICE, FLAG, LABEL = 1, 2, 3, 41
HEAVY = [0, 4, 5]
"""duration, src_bytes, dst_bytes: signed-log scaled."""
SITES = ["site-http", "site-private", "site-domain", "site-smtp", "site-ftp-data", "site-other"]
SERVICE_SITE = {"http": 0, "private": 1, "domain_u": 2, "smtp": 3, "ftp_data": 4}
"""Every other service goes to site-other."""
COMPROMISED = 4
PRECISION = 0.95


def _one_hot(values: list[str]) -> np.ndarray:
    """One column per distinct value (sorted), 1.0 where the row has it."""
    levels = sorted(set(values))
    index = {v: i for i, v in enumerate(levels)}
    out = np.zeros((len(values), len(levels)))
    out[np.arange(len(values)), [index[v] for v in values]] = 1.0
    return out


def read_nsl_kdd(path: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Features (numeric columns, heavy ones signed-log scaled, protocol and flag one-hot), labels
    (1 = any attack) and each row's service."""
    rows = read_rows(path, columns=COLUMNS)
    categorical = {PROTOCOL, SERVICE, FLAG}
    numeric_columns = [c for c in range(41) if c not in categorical]
    X = numeric(path, rows, numeric_columns, [f"column {c + 1}" for c in numeric_columns], 1)
    if np.isnan(X).any():
        line = int(np.flatnonzero(np.isnan(X).any(axis=1))[0]) + 1
        raise ConfigError(f"{path} line {line}: an empty feature value")
    heavy = [numeric_columns.index(c) for c in HEAVY]
    X[:, heavy] = signed_log(X[:, heavy])
    labels = [r[LABEL].strip() for r in rows]
    if "normal" not in labels:
        raise ConfigError(f"{path}: no 'normal' connection in column {LABEL + 1}; not an NSL-KDD file")
    y = np.array([label != "normal" for label in labels], dtype=np.int64)
    onehots = [_one_hot([r[c].strip() for r in rows]) for c in (PROTOCOL, FLAG)]
    return np.hstack([X, *onehots]), y, [r[SERVICE].strip() for r in rows]


def load_intrusion(root: Path) -> StudyData:
    """The connections split over six sites by service group."""
    X, y, services = read_nsl_kdd(data_file(NSL_KDD_FILE, root))
    groups = np.array([SERVICE_SITE.get(s, len(SITES) - 1) for s in services], dtype=np.int64)
    return study_data(
        X,
        y,
        groups,
        SITES,
        split_rule="service: http, private, domain_u, smtp, ftp_data each one site; every other service site-other",
        license="NSL-KDD (Tavallaee et al. 2009, UNB CIC): citation required, no open licence confirmed",
    )


def measures(y: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Intrusion AUC, recall (detection rate) at precision 0.95 and accuracy."""
    return binary_measures(y, scores, PRECISION)


def security_log(context: Any) -> dict[str, Any]:
    """The ledger as the security log: one signed alert per round that rejected the compromised site's update
    (each re-derived from the round record), then the whole log's verification."""
    from ..alerts.audit import audit_alert
    from .security_alerts import raise_rejection_alerts

    study = context.studies[0]
    compromised = str(context.home.keys.info(SITES[COMPROMISED]).address)
    raised = raise_rejection_alerts(context.home, study.task_id, "aggregator", compromised, len(study.history))
    with context.home.open_ledger(as_validator=False) as ledger:
        state, store = ledger.state(), context.home.store()
        rederived = sum(audit_alert(state, store, alert_id).ok for alert_id in raised)  # as 'audit alert ID' does
        verified = ledger.verify()
    return {
        "security log: events (hash-chained, signed)": verified.events_checked,
        "security log: verifies": verified.ok,
        f"security log: rounds rejecting {SITES[COMPROMISED]}'s update": f"{len(raised)} of {len(study.history)}",
        "security log: alerts signed (AlertRaised)": len(raised),
        "security log: alerts re-derived from the round records": f"{rederived} of {len(raised)}",
    }


FEDERATION: dict[str, Any] = {
    "rule": "multi_krum",
    "rule_params": {"f": 1},
    "rounds": 20,
    "epochs": 2,
    "lr": 0.2,
    "batch_size": 32,
    "model": {"type": "mlp", "hidden": 32},
    "attack": "sign_flip",
    "attackers": [COMPROMISED],
    "reward_pool": 10_000,
    "stake": 100,
    "initial_tokens": 100,
    "slash_on": ["not selected by", "update norm", "non-finite"],
    "slash_amount": 25,
    "valuation": {"method": "leave_one_out"},
}

SCENARIO = Scenario(
    name="cybersecurity",
    title="network sites: intrusion detection on NSL-KDD",
    studies=(
        Study(
            "intrusion",
            "intrusion (any attack vs normal)",
            load_intrusion,
            FEDERATION,
            measures,
            notes=(f"{SITES[COMPROMISED]} is compromised: it sends sign-flipped updates every round",),
        ),
    ),
    analytics=security_log,
)
