"""A task's screening policy (``[screening]`` in a federation config, ``TaskCreated.screening`` on the ledger):
which detector, the threshold and what happens to a participant scored at or above it (pure; no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from .detector import DEFAULT_DETECTOR, DEFAULT_THRESHOLD, DETECTORS

ACTIONS = ("flag", "exclude", "slash")
"""What a task's screening policy does with a participant scored at or above its threshold."""
DEFAULT_ACTION = "flag"
SCREENING_REASON = "screening: score "
"""Prefix of the rejection reason of an update the screening policy excluded (``slash_on`` can name it)."""


@dataclass(frozen=True)
class Policy:
    """A task's screening policy: detector, threshold and action (``active`` False: the task declared none)."""

    detector: str = DEFAULT_DETECTOR
    threshold: float = DEFAULT_THRESHOLD
    action: str = DEFAULT_ACTION
    active: bool = False

    def to_dict(self) -> dict[str, Any]:
        """What ``TaskCreated.screening`` records."""
        return {"detector": self.detector, "threshold": self.threshold, "action": self.action}

    def decision(self, score: float) -> str:
        """``ok``, ``flag`` or ``exclude`` (an excluding or slashing policy excludes)."""
        if score < self.threshold:
            return "ok"
        return "exclude" if self.active and self.action in ("exclude", "slash") else "flag"

    @property
    def excludes(self) -> bool:
        """Whether flagged updates are left out of the aggregation."""
        return self.active and self.action in ("exclude", "slash")


def check_policy(raw: dict[str, Any]) -> Policy:
    """The policy of a ``[screening]`` table or a ``TaskCreated.screening`` dict; ``ConfigError`` naming the bad key."""
    if not isinstance(raw, dict):
        raise ConfigError("setting 'screening' must be a table")
    if not raw:
        return Policy()
    unknown = set(raw) - {"detector", "threshold", "action"}
    if unknown:
        raise ConfigError(f"setting 'screening' takes detector, threshold and action, not {sorted(unknown)}")
    detector, threshold, action = (
        raw.get("detector", DEFAULT_DETECTOR),
        raw.get("threshold", DEFAULT_THRESHOLD),
        raw.get("action", DEFAULT_ACTION),
    )
    if detector not in DETECTORS:
        raise ConfigError(f"setting 'screening.detector' must be one of {list(DETECTORS)}, got {detector!r}"[:200])
    if type(threshold) not in (int, float) or not 0 < threshold < 1:
        raise ConfigError(f"setting 'screening.threshold' must be a number in (0, 1), got {threshold!r}"[:200])
    if action not in ACTIONS:
        raise ConfigError(f"setting 'screening.action' must be one of {list(ACTIONS)}, got {action!r}"[:200])
    return Policy(str(detector), float(threshold), str(action), True)


def exclusion_reason(score: float, threshold: float, digest: str) -> str:
    """The rejection reason of an excluded update: score, threshold and the explanation's digest."""
    return f"{SCREENING_REASON}{score:.6f} >= threshold {threshold:g} (explanation {digest})"


EXPLANATION_FORMAT = "ledgerml-screening-explanation/1"
"""The ``format`` of an explanation document."""
