"""The chain monitor: score every block against each attack signature, turn runs of flagged blocks into alerts,
and explain each alert (the signature, its signals at the peak block against their reference window)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ...errors import ConfigError
from .activity import Activity
from .detectors import MONITOR_SIGNALS, SIGNATURES, WINDOW, Z_CAP, flagged_windows, signature_scores, trailing_robust_z
from .history import HISTORY
from .signals import SIGNAL_HELP, monitor_signals

DEFAULT_THRESHOLD = 6.9
"""Alert threshold on the signature score (capped robust z, at most 10): the lowest reaching precision 0.9 on the
calibration traces of ``benchmarks/chain_attacks.py`` (seeds 0-5, 6.903; the table is measured on seeds 6-15)."""
DETECTOR_NAME = "chainwatch/v1"
HISTORY_NAME = {
    "fan_out_surprise": "fan-out vs the account's own past",
    "fan_in_surprise": "fan-in vs the account's own past",
}


@dataclass(frozen=True)
class MonitorSettings:
    """The monitor's parameters (recorded in every alert's explanation, so the auditor reruns the same)."""

    threshold: float = DEFAULT_THRESHOLD
    window: int = WINDOW
    history: int = HISTORY
    merge_gap: int = 2

    def __post_init__(self) -> None:
        if not np.isfinite(self.threshold) or self.threshold <= 0:
            raise ConfigError("--threshold must be a positive number")
        if self.window < 5 or self.history != HISTORY or self.merge_gap < 0:
            raise ConfigError("window must be at least 5 blocks (history is fixed)")


@dataclass(frozen=True)
class ChainAlert:
    """One detected attack window: block numbers, the attack signature named, the peak score and its signals."""

    attack: str
    first_block: int
    last_block: int
    peak_block: int
    score: float
    threshold: float
    signals: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON data (``monitor chain --json``)."""
        return asdict(self)


@dataclass(frozen=True)
class MonitorResult:
    """Every block's score and the alerts."""

    first_block: int
    last_block: int
    scores: np.ndarray
    alerts: list[ChainAlert]


def _signals_at(
    t: int, attack: str, values: np.ndarray, z: np.ndarray, med: np.ndarray, scale: np.ndarray
) -> list[dict[str, Any]]:
    rows = []
    for name in SIGNATURES[attack]:
        j = MONITOR_SIGNALS.index(name)
        rows.append(
            {
                "signal": name,
                "help": SIGNAL_HELP.get(name) or HISTORY_NAME[name],
                "value": float(values[t, j]),
                "reference_median": float(med[t, j]),
                "reference_scale": float(scale[t, j]),
                "z": float(z[t, j]),
            }
        )
    return sorted(rows, key=lambda r: -r["z"])


def run_monitor(activity: Activity, settings: MonitorSettings | None = None) -> MonitorResult:
    """Score ``activity`` block by block (each block against the blocks before it) and list the alerts; an alert
    names the signature whose signals are highest on average at its peak block."""
    settings = settings or MonitorSettings()
    values = monitor_signals(activity)
    z, med, scale = trailing_robust_z(values, MONITOR_SIGNALS, settings.window)
    per_signature = signature_scores(z, MONITOR_SIGNALS)
    scores = per_signature.max(axis=1)
    names = list(SIGNATURES)
    member_means = np.stack(
        [np.clip(z[:, [MONITOR_SIGNALS.index(s) for s in SIGNATURES[n]]], 0, Z_CAP).mean(axis=1) for n in names], axis=1
    )
    alerts = []
    for w in flagged_windows(scores, settings.threshold, merge_gap=settings.merge_gap):
        attack = names[int(np.argmax(member_means[w.peak_at]))]
        alerts.append(
            ChainAlert(
                attack=attack,
                first_block=int(activity.number[w.start]),
                last_block=int(activity.number[w.end]),
                peak_block=int(activity.number[w.peak_at]),
                score=float(w.peak),
                threshold=settings.threshold,
                signals=_signals_at(w.peak_at, attack, values, z, med, scale),
            )
        )
    return MonitorResult(int(activity.number[0]), int(activity.number[-1]), scores, alerts)


def alert_explanation(
    alert: ChainAlert, settings: MonitorSettings, input_digest: str, result: MonitorResult
) -> dict[str, Any]:
    """The explanation document an ``AlertRaised`` of this alert keeps: the rule that fired, its signals, the
    settings and the digest of the activity the monitor read (kept in the store), so it can be re-derived."""
    members = ", ".join(SIGNATURES[alert.attack])
    return {
        "method": "chainwatch",
        "attack": alert.attack,
        "rule": f"{alert.attack}: the largest robust z-score (capped at 10) of {members} reached {settings.threshold}",
        "settings": asdict(settings),
        "input": {"digest": input_digest, "first_block": result.first_block, "last_block": result.last_block},
        "window": {"first_block": alert.first_block, "last_block": alert.last_block, "peak_block": alert.peak_block},
        "score": alert.score,
        "threshold": alert.threshold,
        "signals": alert.signals,
        "note": "the score of a block compares it only with the blocks before it",
    }


def alert_subject(alert: ChainAlert) -> dict[str, Any]:
    """The ``AlertRaised`` subject of a chain alert: its block range."""
    return {
        "type": "block_range",
        "id": f"{alert.first_block}-{alert.last_block}",
        "first_block": alert.first_block,
        "last_block": alert.last_block,
    }
