"""The access log of a sealed dataset: its key epochs, versions, grants, revocations and every key release."""

from __future__ import annotations

from typing import Any

from ..ledger.base import LedgerBackend
from ..vocab.access import ACCESS_KINDS, grants, is_active, series
from ._ledger import require_embedded
from .grants import resolve_series


def _entry(stored: Any) -> dict[str, Any]:
    event = stored.event
    return {"event": event.id, "seq": stored.seq, "time": event.time, "actor": event.actor, **event.payload}


def access_report(ledger: LedgerBackend, dataset_id: str, *, now: int | None = None) -> dict[str, Any]:
    """Who could decrypt which version of ``dataset_id``'s series, and when: JSON data from the ledger's events."""
    from ..events import now_ms

    require_embedded(ledger)
    state = ledger.state()
    series_id = resolve_series(state, dataset_id)
    record = series(state, series_id)
    assert record is not None
    versions = {key for key, value in state.rows("sealed_datasets").items() if value.series == series_id}
    found: dict[str, list[dict[str, Any]]] = {kind: [] for kind in ACCESS_KINDS}
    for stored in ledger.events():
        if stored.event.kind in ACCESS_KINDS and stored.event.payload.get("dataset_id") in versions | {series_id}:
            found[stored.event.kind].append(_entry(stored))
    uses = found["AccessUsed"]
    for use in uses:
        use["reader"] = use.pop("actor")
    time = now_ms() if now is None else now
    return {
        "dataset_id": series_id,
        "owner": record.owner,
        "epoch": record.epoch,
        "readers": list(record.readers),
        "live_grants": sorted(g.grantee for g in grants(state, series_id) if is_active(g, time)),
        "epochs": found["DataKeyRotated"],
        "versions": found["DatasetEncrypted"],
        "grants": found["AccessGranted"],
        "revocations": found["AccessRevoked"],
        "uses": uses,
    }


__all__ = ["access_report"]
