"""Participant screening for federations, the pure part: the cross-round detector of malicious updates
(``detector``, numpy only) and the task's policy (``policy``). Its replay over a task's ledger and artifact
store is ``ledgerml.federated.screening``."""

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
