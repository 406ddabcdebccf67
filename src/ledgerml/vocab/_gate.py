"""The governance gate the rules of governed kinds call: a direct event is refused while a policy covers its kind.

Pure and light (no vocabulary import, no I/O), so ``vocab.core``, ``vocab.tokens`` and ``vocab.tasks`` can call it
without importing ``vocab.governance``. The policy record is stored by ``vocab.governance`` in the ``governance``
table under ``"policy"``; ``ProposalExecuted`` marks, for the span of one embedded rule, which kind it executes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from ..errors import Unauthorized

POLICY_TABLE = "governance"
POLICY_KEY = "policy"
_EXECUTING: ContextVar[str | None] = ContextVar("ledgerml_governance_executing", default=None)


def current_policy(state: Any) -> Any:
    """The governance policy in force (a ``vocab.governance.PolicyRecord``), or None."""
    return state.get(POLICY_TABLE, POLICY_KEY)


def governs(policy: Any, kind: str) -> bool:
    """Whether ``policy`` (a record or None) requires approvals for events of ``kind``."""
    return policy is not None and kind in policy.actions


@contextmanager
def executing(kind: str) -> Iterator[None]:
    """Mark that the rule of ``kind`` now runs on behalf of an executed proposal (approved by the policy)."""
    token = _EXECUTING.set(kind)
    try:
        yield
    finally:
        _EXECUTING.reset(token)


def under_proposal(kind: str) -> bool:
    """Whether the rule of ``kind`` runs inside a ``ProposalExecuted`` that carries it."""
    return _EXECUTING.get() == kind


def require_approval(state: Any, kind: str) -> None:
    """``Unauthorized`` (one line naming the policy) for a direct event of a kind the policy governs."""
    policy = current_policy(state)
    if not governs(policy, kind) or under_proposal(kind):
        return
    raise Unauthorized(
        f"{kind} needs {policy.threshold} of {len(policy.members)} approvals under governance policy "
        f"v{policy.version}: propose it ('ledgerml governance propose' or the command's --propose) and have "
        "members approve it"
    )


__all__ = ["current_policy", "executing", "governs", "require_approval", "under_proposal"]
