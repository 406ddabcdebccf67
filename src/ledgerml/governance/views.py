"""The governance document the CLI prints and the service serves: the policy and every proposal with its votes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._json import loads_bounded
from ..state import State
from ..vocab.governance import PolicyRecord, ProposalRecord, policy, proposals


def _who(address: str, names: Mapping[Any, str]) -> dict[str, str | None]:
    return {"address": address, "name": names.get(address)}


def policy_document(record: PolicyRecord | None, names: Mapping[Any, str]) -> dict[str, Any] | None:
    """The policy as JSON data (None when no policy is set)."""
    if record is None:
        return None
    return {
        "version": record.version,
        "threshold": record.threshold,
        "members": [_who(m, names) for m in record.members],
        "actions": list(record.actions),
        "set_by": record.set_by,
        "time": record.time,
    }


def proposal_document(found: ProposalRecord, names: Mapping[Any, str], now: int) -> dict[str, Any]:
    """One proposal: the exact event it carries, who approved and rejected it, its status at ``now`` (ms)."""
    return {
        "proposal": found.proposal_id,
        "kind": found.action,
        "payload": loads_bounded(found.payload),
        "digest": found.digest,
        "proposer": _who(found.proposer, names),
        "status": found.status_at(now),
        "approvals": [_who(a, names) for a in found.approvals],
        "rejections": [_who(r, names) for r in found.rejections],
        "policy_version": found.policy_version,
        "created": found.created,
        "expires": found.expires,
        "created_by": found.created_by,
        "executed_by": found.executed_by,
    }


def governance_document(state: State, names: Mapping[Any, str], now: int, *, open_only: bool = False) -> dict[str, Any]:
    """``{"policy": ..., "proposals": [...]}``, newest proposal first; ``open_only`` keeps the open ones."""
    rows = [proposal_document(p, names, now) for p in reversed(proposals(state))]
    return {
        "policy": policy_document(policy(state), names),
        "proposals": [r for r in rows if not open_only or r["status"] == "open"],
    }


__all__ = ["governance_document", "policy_document", "proposal_document"]
