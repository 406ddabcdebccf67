"""Unusual shipments: an isolation forest on a shipment's commercial figures (signed-log quantity, value,
pack price, unit price, weight, and how far the value is from quantity x pack price), fitted on the training
shipments. There are no labelled anomalies in the data, so it is evaluated on planted ones: a copy of the test
shipments in which 2 % get one figure off by a factor of 100 (a slipped decimal point), scored blind."""

from __future__ import annotations

from typing import Any

import numpy as np

from .metrics import roc_auc
from .shipments import Shipments
from .split import holdout

PLANTED_SHARE = 0.02
FLAG_SHARE = 0.02
"""The detector flags the top 2 % of scored shipments."""
SLIP = np.log(100.0)
"""A factor of 100 on the signed-log scale (for figures well above 1)."""


def figures(amounts: np.ndarray) -> np.ndarray:
    """The detector's inputs: the five signed-log figures and log(value) - log(quantity) - log(pack price)."""
    quantity, value, pack_price = amounts[:, 0], amounts[:, 1], amounts[:, 2]
    return np.asarray(np.c_[amounts, value - quantity - pack_price])


def plant(amounts: np.ndarray, share: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A copy of ``amounts`` with ``share`` of the rows given one figure x100 or /100; and which rows."""
    corrupted = amounts.copy()
    count = max(1, round(share * len(amounts)))
    rows = rng.choice(len(amounts), size=min(count, len(amounts)), replace=False)
    columns = rng.integers(0, amounts.shape[1], size=len(rows))
    signs = rng.choice([-1.0, 1.0], size=len(rows))
    corrupted[rows, columns] += signs * SLIP
    planted = np.zeros(len(amounts), dtype=bool)
    planted[rows] = True
    return corrupted, planted


def flag_top(scores: np.ndarray, share: float) -> np.ndarray:
    """Whether each row is among the ``share`` highest scores (at least one row)."""
    count = max(1, round(share * len(scores)))
    flagged = np.zeros(len(scores), dtype=bool)
    flagged[np.argsort(-scores, kind="mergesort")[:count]] = True
    return flagged


def evaluate_detector(shipments: Shipments, *, seed: int = 0) -> dict[str, Any]:
    """Fit on the training shipments, score the test shipments with planted slips; the report rows."""
    from sklearn.ensemble import IsolationForest

    train, _, test = holdout(shipments.y, (0.1, 0.2), seed)
    forest = IsolationForest(n_estimators=200, random_state=seed).fit(figures(shipments.amounts[train]))
    corrupted, planted = plant(shipments.amounts[test], PLANTED_SHARE, np.random.default_rng(seed))
    scores = -forest.score_samples(figures(corrupted))
    flagged = flag_top(scores, FLAG_SHARE)
    hits = int((flagged & planted).sum())
    real_flagged = flagged & ~planted
    late = shipments.y[test]
    late_flagged = float(late[real_flagged].mean()) if real_flagged.any() else float("nan")
    return {
        "unusual shipments: test shipments scored": len(test),
        "unusual shipments: planted x100 slips": int(planted.sum()),
        "unusual shipments: AUC on planted slips": round(roc_auc(planted, scores), 4),
        f"unusual shipments: precision / recall flagging top {FLAG_SHARE:.0%}": (
            f"{hits / max(1, int(flagged.sum())):.3f} / {hits / max(1, int(planted.sum())):.3f}"
        ),
        "unusual shipments: late rate, flagged real vs all": (f"{late_flagged:.3f} vs {float(late.mean()):.3f}"),
    }
