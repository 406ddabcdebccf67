"""What a scenario declares: its studies (one federated task each), their organisations' data, the rule,
the attacker, the model, and the field's measures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Organisation:
    """One organisation's own training rows (already numeric; features standardised by the study)."""

    name: str
    X: np.ndarray
    y: np.ndarray


@dataclass(frozen=True)
class StudyData:
    """A study's data after the split: each organisation's rows, the aggregator's validation set (used by the
    rules and the rewards) and a test set nobody trains or selects on (the reported measures)."""

    organisations: list[Organisation]
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    split_rule: str
    license: str
    consent_note: str = "public research data, split across organisations for a scenario"


Measures = Callable[[np.ndarray, np.ndarray], dict[str, float]]
"""The field's measures from test labels and the model's scores (positive-class probability)."""


@dataclass(frozen=True)
class Study:
    """One federated task of a scenario.

    ``load(root)`` reads the real data under the data root (``tiny`` for a quick run on few rows).
    ``federation`` holds ``FederationConfig`` settings (rule, rounds, model, attack, rewards); the scenario
    runner fills ``task_id``, ``dataset``, ``participants`` and ``names``."""

    key: str
    title: str
    load: Callable[[Path], StudyData]
    federation: dict[str, Any]
    measures: Measures
    headline: str = "auc"
    """The measure the targets are judged on (higher is better unless ``lower_is_better``)."""
    lower_is_better: bool = False
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scenario:
    """A runnable application scenario: a name, a title, its studies and optional domain analytics."""

    name: str
    title: str
    studies: tuple[Study, ...]
    analytics: Callable[[Any], dict[str, Any]] | None = None
    """Called with the :class:`~ledgerml.scenarios.runner.ScenarioContext` after training; returns report rows."""
    description: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)
