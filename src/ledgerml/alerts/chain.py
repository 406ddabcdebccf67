"""Chain monitoring as a workflow: read activity (folder or JSON-RPC), run the monitor, and with ``raise_alerts``
keep the activity in the artifact store and sign one ``AlertRaised`` per detected window; re-derive such an alert."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._canonical import canonical_json
from .._json import loads_bounded
from ..errors import ConfigError, LedgerMLError, TamperDetected

if TYPE_CHECKING:
    from ..analytics.chainwatch.activity import Activity
    from ..home import Home
    from .audit import AuditContext, Rederived

Progress = Callable[[int, int], None]
MAX_ACTIVITY_BYTES = 512 << 20


def read_activity(
    *, rpc: str | None, data: Path | None, from_block: int | None, to_block: int | None, progress: Progress | None
) -> tuple[Activity, list[str], str]:
    """The activity from exactly one source, its notes and a label of the source."""
    from ..analytics.chainwatch.ingest import fetch_activity, read_folder

    if (rpc is None) == (data is None):
        raise ConfigError("give exactly one of --rpc URL or --data FOLDER")
    if data is not None:
        if from_block is not None or to_block is not None:
            raise ConfigError("--from-block and --to-block go with --rpc; --data reads the whole folder")
        activity, notes = read_folder(data)
        return activity, notes, str(data)
    activity, notes = fetch_activity(str(rpc), from_block, to_block, progress=progress)
    return activity, notes, str(rpc)


def check_signer(home: Home, acting: str | None) -> Any:
    """The identity that will sign alerts, checked before any work: it must be allowed to raise them."""
    from ..vocab.alerts import check_may_raise_alerts

    identity = home.identity(acting)
    with home.open_ledger(as_validator=False) as ledger:
        check_may_raise_alerts(ledger.state(), identity.address)
    return identity


def monitor_chain(
    home: Home | None,
    *,
    rpc: str | None = None,
    data: Path | None = None,
    from_block: int | None = None,
    to_block: int | None = None,
    threshold: float | None = None,
    raise_alerts: bool = False,
    acting: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The document ``monitor chain --json`` prints: the blocks read, the threshold, every alert (with its
    ``alert_id`` when raised) and notes. Options and the signer are checked before anything is read."""
    from ..analytics.chainwatch.monitor import MonitorSettings, run_monitor

    settings = MonitorSettings() if threshold is None else MonitorSettings(threshold=threshold)
    identity = check_signer(home, acting) if raise_alerts and home is not None else None
    if raise_alerts and home is None:
        raise ConfigError("--raise-alerts needs a ledger home")
    activity, notes, source = read_activity(
        rpc=rpc, data=data, from_block=from_block, to_block=to_block, progress=progress
    )
    result = run_monitor(activity, settings)
    alerts = [a.to_dict() for a in result.alerts]
    document: dict[str, Any] = {
        "source": source,
        "blocks": activity.blocks,
        "transactions": len(activity.tx_block),
        "first_block": result.first_block,
        "last_block": result.last_block,
        "threshold": settings.threshold,
        "alerts": alerts,
        "notes": notes,
    }
    if identity is not None and home is not None and result.alerts:
        document["input_digest"] = _raise(home, identity, activity, settings, result, alerts)
    return document


def _raise(
    home: Home, identity: Any, activity: Activity, settings: Any, result: Any, rows: list[dict[str, Any]]
) -> str:
    """Keep the activity in the home's store and sign one alert per window; each row gets its ``alert_id``."""
    from ..analytics.chainwatch.monitor import DETECTOR_NAME, alert_explanation, alert_subject
    from .api import raise_alert

    store = home.store()
    digest = str(store.put(canonical_json(activity.to_json())))
    with home.open_ledger() as ledger:
        for alert, row in zip(result.alerts, rows, strict=True):
            receipt = raise_alert(
                ledger,
                store,
                identity,
                detector=f"{DETECTOR_NAME}/{alert.attack}",
                subject=alert_subject(alert),
                score=alert.score,
                threshold=alert.threshold,
                decision="alert",
                explanation=alert_explanation(alert, settings, digest, result),
            )
            row["alert_id"] = receipt.event_id
        if ledger.validator is not None:
            ledger.seal()
    return digest


def rederive(ctx: AuditContext, explanation: dict[str, Any]) -> Rederived:
    """Rerun the monitor on the stored activity with the recorded settings and rebuild the alert's explanation."""
    from ..analytics.chainwatch.activity import activity_from_json
    from ..analytics.chainwatch.monitor import MonitorSettings, alert_explanation, run_monitor
    from .audit import Rederived

    try:
        digest = str(explanation["input"]["digest"])
        window = explanation["window"]
        settings = MonitorSettings(**explanation["settings"])
    except LedgerMLError:
        raise
    except (KeyError, TypeError, AttributeError):
        raise TamperDetected("the explanation lacks the monitor's input, window or settings") from None
    raw = ctx.store.get(digest)
    activity = activity_from_json(loads_bounded(raw, what="stored chain activity", max_bytes=MAX_ACTIVITY_BYTES))
    result = run_monitor(activity, settings)
    for alert in result.alerts:
        if (alert.first_block, alert.last_block) == (window.get("first_block"), window.get("last_block")):
            again = alert_explanation(alert, settings, digest, result)
            return Rederived(alert.score, alert.threshold, "alert", again)
    first, last = window.get("first_block"), window.get("last_block")
    raise TamperDetected(f"the monitor raises no alert over blocks {first}..{last} from the stored activity")
