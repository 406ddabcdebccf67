"""What a scenario run produced: each study's measures and rounds, the audit checks and the analytics;
:meth:`ScenarioResult.to_dict` is the ``scenario run --json`` document."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..home import Home
from ..workflows.demo import AuditCheck
from . import baselines
from .base import Scenario, Study


@dataclass
class StudyResult:
    """One study's outcome: the federated, centralised and per-organisation measures and its rounds."""

    study: Study
    task_id: str
    federated: dict[str, float]
    centralised: dict[str, float]
    local: list[dict[str, float]]
    organisations: list[tuple[str, int, float]]
    """Each organisation's name, rows and positive share (the mean target for a regression study)."""
    history: list[dict[str, Any]]
    model_id: str
    attestation: Path
    sealed: list[str] = field(default_factory=list)
    """The organisations' sealed partitions (dataset ids), in organisation order."""
    references: dict[str, dict[str, float]] = field(default_factory=dict)
    """Reference lines beside the centralised baseline (``baselines.references``: true labels, honest
    organisations only), where some organisation's labels are faulty."""


@dataclass
class ScenarioContext:
    """What the domain analytics get: the home, the data root and every study's result."""

    home: Home
    root: Path
    studies: list[StudyResult]


@dataclass
class ScenarioResult:
    """A scenario's outcome; :meth:`to_dict` is what ``scenario run --json`` prints."""

    scenario: Scenario
    home: Path
    studies: list[StudyResult]
    checks: list[AuditCheck]
    analytics: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    report: Path | None = None
    ledger_id: str = ""
    events: int = 0

    @property
    def audit_ok(self) -> bool:
        """Whether every audit check passed."""
        return all(c.ok for c in self.checks)

    def _merged(self, pick: Callable[[StudyResult], dict[str, float]]) -> dict[str, float]:
        """Measures of every study, prefixed with the study's key when there are several."""
        if len(self.studies) == 1:
            return dict(pick(self.studies[0]))
        return {f"{s.study.key}_{k}": v for s in self.studies for k, v in pick(s).items()}

    @property
    def metrics(self) -> dict[str, float]:
        """The federated models' measures."""
        return self._merged(lambda s: s.federated)

    def to_dict(self) -> dict[str, Any]:
        """``{"scenario", "metrics", "baselines": {"centralised", "local_only"}, "audit_ok"}``."""
        return {
            "scenario": self.scenario.name,
            "metrics": self.metrics,
            "baselines": {
                "centralised": self._merged(lambda s: s.centralised),
                "local_only": self._merged(lambda s: baselines.median_of(s.local)),
            },
            "audit_ok": self.audit_ok,
        }
