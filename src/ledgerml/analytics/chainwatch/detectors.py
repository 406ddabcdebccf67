"""Detectors over per-block signals: signature scores on robust (median/MAD) trailing z-scores, and the two
baselines, a rolling z-score and CUSUM, on the same signals. Every score of block t uses blocks before t only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .history import HISTORY_SIGNALS
from .signals import SIGNALS

MONITOR_SIGNALS = SIGNALS + HISTORY_SIGNALS
"""The signals the monitor scores: the per-block ones and the per-account history ones."""

SIGNATURES: dict[str, tuple[str, ...]] = {
    "flooding": ("tx_count", "gas_ratio", "repeated_failures", "new_fan_out", "fan_out_surprise"),
    "fee_manipulation": ("fee", "fee_jump", "gas_ratio"),
    "sybil_burst": ("new_senders", "new_fan_in", "fan_in_surprise", "fan_out_surprise"),
}
"""Each attack the monitor names, and the signals that rise together when it happens."""
MIN_SCALE = {
    "gas_ratio": 0.02,
    "tx_count": 1.0,
    "fee": 1e-3,
    "fee_jump": 0.01,
    "top_sender_share": 0.01,
    "fan_out": 0.01,
    "fan_in": 0.01,
    "new_senders": 0.01,
    "new_fan_in": 0.01,
    "new_fan_out": 0.01,
    "repeated_failures": 1.0,
    "fan_out_surprise": 1.0,
    "fan_in_surprise": 1.0,
}
"""Smallest spread a signal's reference window is given (a window of equal values has a MAD of zero)."""
MAD_TO_SD = 1.4826
WINDOW = 50
"""Reference blocks behind each block."""
MIN_HISTORY = 20
"""Blocks a stream needs before anything is scored (earlier blocks score 0)."""
Z_CAP = 10.0
"""Largest robust z-score one signal contributes."""
AGREEING = 1
"""A signature's score is the mean of its ``AGREEING`` largest capped z-scores: two signals must rise together."""


def trailing_robust_z(
    signals: np.ndarray, names: tuple[str, ...] = MONITOR_SIGNALS, window: int = WINDOW
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Robust z-scores of every block against the ``window`` blocks before it: (z, medians, scales)."""
    n, k = signals.shape
    z, medians, scales = np.zeros((n, k)), np.zeros((n, k)), np.ones((n, k))
    floor = np.array([MIN_SCALE[s] for s in names])
    for t in range(MIN_HISTORY, n):
        ref = signals[max(0, t - window) : t]
        median = np.median(ref, axis=0)
        mad = np.median(np.abs(ref - median), axis=0) * MAD_TO_SD
        scale = np.maximum(np.maximum(mad, floor), 0.05 * np.abs(median))
        medians[t], scales[t] = median, scale
        z[t] = (signals[t] - median) / scale
    return z, medians, scales


def signature_scores(z: np.ndarray, names: tuple[str, ...] = MONITOR_SIGNALS) -> np.ndarray:
    """A ``(blocks, len(SIGNATURES))`` array: each signature's mean of its ``AGREEING`` largest capped z-scores."""
    capped = np.clip(z, 0.0, Z_CAP)
    out = []
    for members in SIGNATURES.values():
        columns = capped[:, [names.index(s) for s in members]]
        top = np.sort(columns, axis=1)[:, -AGREEING:]
        out.append(top.mean(axis=1))
    return np.stack(out, axis=1)


def trailing_z(signals: np.ndarray, names: tuple[str, ...] = SIGNALS, window: int = WINDOW) -> np.ndarray:
    """Classic z-scores (mean and standard deviation of the ``window`` blocks before each block)."""
    n, k = signals.shape
    z = np.zeros((n, k))
    floor = np.array([MIN_SCALE[s] for s in names])
    for t in range(MIN_HISTORY, n):
        ref = signals[max(0, t - window) : t]
        z[t] = (signals[t] - ref.mean(axis=0)) / np.maximum(ref.std(axis=0), floor)
    return z


def rolling_zscore_scores(signals: np.ndarray, names: tuple[str, ...] = SIGNALS, window: int = WINDOW) -> np.ndarray:
    """Baseline: the largest classic trailing z-score of any signal, per block."""
    best: np.ndarray = trailing_z(signals, names, window).max(axis=1)
    return best


def cusum_flags(z: np.ndarray, h: float, drift: float = 0.5) -> np.ndarray:
    """Baseline: one-sided CUSUM of every signal's trailing z-score ``z`` (``S = max(0, S + z - drift)``); a block
    is flagged when any statistic reaches ``h``, and every statistic restarts from 0 after an alarm."""
    s = np.zeros(z.shape[1])
    flags = np.zeros(len(z), dtype=bool)
    for t in range(len(z)):
        s = np.maximum(0.0, s + z[t] - drift)
        if s.max() >= h:
            flags[t] = True
            s[:] = 0.0
    return flags


@dataclass(frozen=True)
class Window:
    """A run of flagged blocks (indices into the stream, inclusive) and its highest score."""

    start: int
    end: int
    peak: float
    peak_at: int


def flagged_windows(scores: np.ndarray, threshold: float, *, merge_gap: int = 2) -> list[Window]:
    """Runs of blocks with ``score >= threshold``, runs at most ``merge_gap`` blocks apart merged."""
    flagged = np.nonzero(scores >= threshold)[0]
    windows: list[Window] = []
    for i in flagged:
        if windows and i - windows[-1].end <= merge_gap + 1:
            last = windows[-1]
            better = scores[i] > last.peak
            windows[-1] = Window(
                last.start, int(i), float(max(last.peak, scores[i])), int(i) if better else last.peak_at
            )
        else:
            windows.append(Window(int(i), int(i), float(scores[i]), int(i)))
    return windows
