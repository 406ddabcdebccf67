"""The federation plan (``federations/TASK.json``): what setup decided, read by every run mode and the auditors.

The file keeps its JSON shape (``config``, ``aggregator``, ``validation``, ``n_classes``, ``participants``); it is
read and written only through :class:`FederationPlan`, which checks it once when it is loaded.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .._files import replace_atomically
from .._json import loads_bounded
from ..errors import ConfigError
from ..home import Home
from .config import FederationConfig

MAX_PLAN_BYTES = 16 * 1024 * 1024
"""Largest federation plan file read."""


@dataclass(frozen=True)
class PlannedParticipant:
    """One participant of a plan: identity name, data file, registered dataset, simulated attack, seed."""

    name: str
    data: str
    dataset_id: str
    attack: str
    seed: int

    @classmethod
    def from_dict(cls, raw: Any, where: str) -> PlannedParticipant:
        """A participant entry, checked; ``ConfigError`` names the bad field."""
        fields = {"name": str, "data": str, "dataset_id": str, "attack": str, "seed": int}
        if not isinstance(raw, dict) or set(raw) != set(fields):
            raise ConfigError(f"{where}: a participant entry must have exactly {sorted(fields)}")
        for key, kind in fields.items():
            if type(raw[key]) is not kind:
                raise ConfigError(f"{where}: participant field {key!r} must be of type {kind.__name__}")
        return cls(**raw)


@dataclass(frozen=True)
class FederationPlan:
    """A set-up federation: its settings, the aggregator, the validation file, the classes and the participants."""

    config: FederationConfig
    aggregator: str
    validation: str
    n_classes: int
    participants: tuple[PlannedParticipant, ...]

    @property
    def task_id(self) -> str:
        """The task the plan is for."""
        return self.config.task_id

    def participant(self, index: int) -> PlannedParticipant:
        """Participant ``index`` (``ConfigError`` if the plan has no such participant)."""
        if not 0 <= index < len(self.participants):
            raise ConfigError(f"the plan of {self.task_id!r} has no participant {index}")
        return self.participants[index]

    def to_dict(self) -> dict[str, Any]:
        """The plan as the JSON object stored on disk."""
        return {
            "config": asdict(self.config),
            "aggregator": self.aggregator,
            "validation": self.validation,
            "n_classes": self.n_classes,
            "participants": [asdict(p) for p in self.participants],
        }

    @classmethod
    def from_dict(cls, raw: Any, where: str) -> FederationPlan:
        """A plan from its JSON object, checked once (the settings with :func:`check_federation`)."""
        keys = {"config", "aggregator", "validation", "n_classes", "participants"}
        if not isinstance(raw, dict) or set(raw) != keys:
            raise ConfigError(f"{where} is not a federation plan (wanted exactly {sorted(keys)})")
        settings = raw["config"]
        if not isinstance(settings, dict) or set(settings) - set(FederationConfig.__dataclass_fields__):
            raise ConfigError(f"{where}: 'config' must hold federation settings only")
        for key, kind in (("aggregator", str), ("validation", str), ("n_classes", int), ("participants", list)):
            if type(raw[key]) is not kind:
                raise ConfigError(f"{where}: {key!r} must be of type {kind.__name__}")
        return cls(
            config=FederationConfig(**settings),
            aggregator=raw["aggregator"],
            validation=raw["validation"],
            n_classes=raw["n_classes"],
            participants=tuple(PlannedParticipant.from_dict(p, where) for p in raw["participants"]),
        )

    def write(self, path: Path) -> Path:
        """Replace the plan file atomically: a crash leaves the old plan or the new one, never half of one."""
        replace_atomically(path, json.dumps(self.to_dict(), indent=2).encode())
        return path


def plan_path(home: Home, task_id: str) -> Path:
    """Where the plan of ``task_id`` lives in a ledger home."""
    return home.path / "federations" / f"{task_id}.json"


def load_plan(home: Home, task_id: str) -> FederationPlan:
    """The plan ``setup_federation`` wrote, checked."""
    path = plan_path(home, task_id)
    if not path.exists():
        raise ConfigError(f"no federation plan for task {task_id!r} in {home.path} (run 'ledgerml fl run' first)")
    raw = loads_bounded(path.read_bytes(), what=str(path), max_bytes=MAX_PLAN_BYTES, error=ConfigError)
    return FederationPlan.from_dict(raw, str(path))
