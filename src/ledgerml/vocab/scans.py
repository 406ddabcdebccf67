"""The scans vocabulary: a signed contract-scan report (which contract files, scanned by which model, found what),
so an auditor can later prove which contract version was scanned by which model with what result."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from ..errors import Unauthorized
from ..events import DigestField, Event, Payload, ShortText, event_kind
from ..state import State, record_type, rule
from .core import roles_of
from .evm import not_on_chain

MAX_COUNT = 10**9


@event_kind("ScanRecorded")
class ScanRecorded(Payload):
    """A participant records a contract scan: the digest of the scanned files (sorted name and sha256 pairs), the
    digest of the findings and per-file errors (canonical JSON), the model used, and the counts."""

    contracts_digest: DigestField
    findings_digest: DigestField
    model_id: DigestField | None = None
    files: int = Field(ge=0, le=MAX_COUNT)
    findings: int = Field(ge=0, le=MAX_COUNT)
    errors: int = Field(ge=0, le=MAX_COUNT)
    detectors: list[ShortText] = Field(default_factory=list, max_length=16)


@record_type
@dataclass(frozen=True, slots=True)
class ScanRecord:
    """A recorded scan, keyed by its event id."""

    contracts_digest: str
    findings_digest: str
    model_id: str | None
    files: int
    findings: int
    errors: int
    actor: str
    time: int


@rule(ScanRecorded)
def _scan_recorded(state: State, event: Event, payload: ScanRecorded) -> None:
    if not roles_of(state, event.actor):
        raise Unauthorized(f"{event.actor} holds no role on this ledger: only participants record scans")
    state.put(
        "scans",
        event.id,
        ScanRecord(
            payload.contracts_digest,
            payload.findings_digest,
            payload.model_id,
            payload.files,
            payload.findings,
            payload.errors,
            event.actor,
            event.time,
        ),
    )


def scans_of(state: State, contracts_digest: str) -> list[tuple[str, ScanRecord]]:
    """Every recorded scan of the files with ``contracts_digest``: (event id, record), oldest first."""
    found = [(k, r) for k, r in state.rows("scans").items() if r.contracts_digest == contracts_digest]
    return sorted(found, key=lambda item: (item[1].time, item[0]))


not_on_chain(ScanRecorded, "Ledger.vy has no room for another function (23.4k of 24.6k bytes); scans stay on SQLite")

__all__ = ["ScanRecord", "ScanRecorded", "scans_of"]
