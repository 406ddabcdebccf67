"""Event-level evaluation of detected windows against labelled attack windows: precision, recall, delay in blocks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .detectors import Window, flagged_windows

TOLERANCE = 5
"""Blocks after an attack window's end in which an alert still counts as catching it."""


@dataclass(frozen=True)
class Outcome:
    """Counts over one or more traces; ``delays`` holds one entry per detected attack window."""

    alerts: int
    true_alerts: int
    windows: int
    detected: int
    delays: tuple[int, ...]

    @property
    def precision(self) -> float:
        """Alerts that overlap an attack window, over all alerts (1.0 when there are none)."""
        return self.true_alerts / self.alerts if self.alerts else 1.0

    @property
    def recall(self) -> float:
        """Attack windows caught, over all attack windows."""
        return self.detected / self.windows if self.windows else 0.0

    @property
    def mean_delay(self) -> float | None:
        """Mean blocks from an attack's first block to its first flagged block (detected windows only)."""
        return float(np.mean(self.delays)) if self.delays else None

    def __add__(self, other: Outcome) -> Outcome:
        return Outcome(
            self.alerts + other.alerts,
            self.true_alerts + other.true_alerts,
            self.windows + other.windows,
            self.detected + other.detected,
            self.delays + other.delays,
        )


EMPTY = Outcome(0, 0, 0, 0, ())


def score_windows(found: list[Window], attacks: list[tuple[int, int]], tolerance: int = TOLERANCE) -> Outcome:
    """Match alerts to attack windows ``(first, last)`` (stream indices, inclusive)."""

    def hits(w: Window, a: tuple[int, int]) -> bool:
        return w.start <= a[1] + tolerance and w.end >= a[0]

    true_alerts = sum(1 for w in found if any(hits(w, a) for a in attacks))
    delays = []
    for a in attacks:
        starts = [max(w.start, a[0]) for w in found if hits(w, a) and w.start <= a[1] + tolerance]
        if starts:
            delays.append(min(starts) - a[0])
    return Outcome(len(found), true_alerts, len(attacks), len(delays), tuple(delays))


def evaluate(scores: np.ndarray, attacks: list[tuple[int, int]], threshold: float) -> Outcome:
    """``score_windows`` of the windows ``scores`` flag at ``threshold``."""
    return score_windows(flagged_windows(scores, threshold), attacks)
