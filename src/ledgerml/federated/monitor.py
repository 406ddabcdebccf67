"""``ledgerml monitor task``'s work on one home: the task's scores labelled with the identity names the
federation config used (addresses where the home holds no key or plan for them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import LedgerMLError
from ..home import Home
from ..identity import Identity
from .coordinator import update_verdict
from .screening import task_scores


def participant_labels(home: Home, task_id: str) -> dict[str, str]:
    """Identity name by address: the home's keys, the task's federation plan first."""
    from ..documents import names

    labels = {str(a): n for a, n in names(home).items()}
    try:
        from .plan import load_plan

        planned = [p.name for p in load_plan(home, task_id).participants]
    except LedgerMLError:
        planned = []
    for name in planned:
        try:
            labels[str(home.keys.info(name).address)] = name
        except LedgerMLError:
            continue
    return labels


def monitor_task(
    home: Home,
    task_id: str,
    on_round: Callable[[int, int], None] | None = None,
    alerts_as: Identity | None = None,
) -> dict[str, Any]:
    """``{"scores": [...]}`` of every committed participant of every finalized round of ``task_id``; with
    ``alerts_as``, also ``"alerts"``: the ``AlertRaised`` it signed per flag not alerted yet, in the same single
    replay of the task."""
    if alerts_as is not None:
        from .screening import sorted_rows
        from .screening_alerts import raise_task_alerts

        rows: list[dict[str, Any]] = []
        raised = raise_task_alerts(home, task_id, alerts_as, participant_labels(home, task_id), rows, on_round)
        return {"scores": sorted_rows(rows), "alerts": raised}
    with home.open_ledger(as_validator=False) as ledger:
        state = ledger.state()
        labels = participant_labels(home, task_id)
        return task_scores(state, home.store(), task_id, update_verdict, lambda a: labels.get(a, a), on_round)
