"""The alerts vocabulary: one signed ``AlertRaised`` event for every detector (federation, chain, fraud), naming the
detector, the subject, the score against the threshold, the decision and the digest of the stored explanation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..errors import Unauthorized
from ..events import DigestField, Event, Payload, ShortText, event_kind
from ..state import State, record_type, rule
from ..types import Role
from .core import roles_of
from .evm import not_on_chain

SUBJECT_TYPES = ("participant", "account", "block_range", "contract")
"""What an alert can be about."""
DECISIONS = ("alert", "flag", "exclude", "slash")
"""What the detector decided: ``alert`` (chain and fraud monitors), or a federation task's policy."""
ALERT_ROLES = frozenset({Role.ADMIN, Role.AUDITOR, Role.AGGREGATOR})
"""Who may raise alerts: the admin, an auditor (a monitoring identity is granted this role), or an aggregator
(federation flags are decided where the round is aggregated). Anyone else, and an unknown actor, is refused."""
MAX_BLOCK = 2**63 - 1

SubjectType = Literal["participant", "account", "block_range", "contract"]
Decision = Literal["alert", "flag", "exclude", "slash"]


class AlertSubject(BaseModel):
    """What the alert is about: ``type`` and ``id`` (participant name, account address, contract digest, or
    ``first-last`` block numbers), with the task and round of a participant or the block range's ends."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: SubjectType
    id: ShortText = Field(min_length=1)
    task: ShortText | None = None
    round: int | None = Field(default=None, ge=0, le=MAX_BLOCK)
    first_block: int | None = Field(default=None, ge=0, le=MAX_BLOCK)
    last_block: int | None = Field(default=None, ge=0, le=MAX_BLOCK)

    @model_validator(mode="after")
    def _range_in_order(self) -> AlertSubject:
        if (self.first_block is None) != (self.last_block is None):
            raise ValueError("first_block and last_block go together")
        if self.first_block is not None and self.last_block is not None and self.last_block < self.first_block:
            raise ValueError("last_block is before first_block")
        return self


@event_kind("AlertRaised")
class AlertRaised(Payload):
    """A monitor raises an alert: ``detector`` (a registered model id, or a rule's name), the subject, the score
    (higher = more suspicious) against the threshold, the decision, and the digest of the explanation document
    kept in the artifact store (SHAP values, the features and history behind a flag, the rule that fired)."""

    detector: ShortText = Field(min_length=1)
    subject: AlertSubject
    score: float = Field(allow_inf_nan=False)
    threshold: float = Field(allow_inf_nan=False)
    decision: Decision
    explanation_digest: DigestField


@record_type
@dataclass(frozen=True, slots=True)
class AlertRecord:
    """A raised alert, keyed by its event id."""

    detector: str
    subject_type: str
    subject_id: str
    task: str | None
    round: int | None
    first_block: int | None
    last_block: int | None
    score: float
    threshold: float
    decision: str
    explanation_digest: str
    actor: str
    time: int


def check_may_raise_alerts(state: State, address: str) -> None:
    """``Unauthorized`` unless ``address`` holds one of ``ALERT_ROLES``."""
    if not roles_of(state, address) & ALERT_ROLES:
        raise Unauthorized(f"{address} may not raise alerts: only an admin, auditor or aggregator may")


@rule(AlertRaised)
def _alert_raised(state: State, event: Event, payload: AlertRaised) -> None:
    check_may_raise_alerts(state, event.actor)
    s = payload.subject
    state.put(
        "alerts",
        event.id,
        AlertRecord(
            payload.detector,
            s.type,
            s.id,
            s.task,
            s.round,
            s.first_block,
            s.last_block,
            payload.score,
            payload.threshold,
            payload.decision,
            payload.explanation_digest,
            event.actor,
            event.time,
        ),
    )


def alerts_of(state: State) -> list[tuple[str, AlertRecord]]:
    """Every raised alert: (event id, record), oldest first."""
    return sorted(state.rows("alerts").items(), key=lambda item: (item[1].time, item[0]))


not_on_chain(AlertRaised, "Ledger.vy has no room for another function (22.8k of 24.6k bytes); alerts stay on SQLite")

__all__ = [
    "ALERT_ROLES",
    "DECISIONS",
    "SUBJECT_TYPES",
    "AlertRaised",
    "AlertRecord",
    "AlertSubject",
    "alerts_of",
    "check_may_raise_alerts",
]
