"""Participant screening for federations: a cross-round detector of malicious updates (pure numpy, in
``detector``), and its replay over a task's ledger and artifact store (``task``)."""

from __future__ import annotations

from .detector import (
    DEFAULT_THRESHOLD,
    DETECTORS,
    FEATURES,
    History,
    ParticipantHistory,
    RoundScores,
    score_round,
)

__all__ = [
    "DEFAULT_THRESHOLD",
    "DETECTORS",
    "FEATURES",
    "History",
    "ParticipantHistory",
    "RoundScores",
    "score_round",
]
