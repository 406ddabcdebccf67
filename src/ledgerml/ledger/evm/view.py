"""The part of ledger state the contract keeps in storage, as plain data: what both backends must agree on.

``project(state)`` reads it from a state-machine ``State`` (any backend's); the EVM backend reads the same
keys from contract storage (``EvmLedger.chain_view``). Equal views mean the Vyper rules and the Python rules
reached the same state. Every field of every record the contract stores is here (the task struct, dataset
owners and record counts, members, commits, round outcomes, slashes, ...), so a call whose arguments differ
from its signed body shows as a difference. Event ids, times and free text (names, URIs, metrics) live only in
the signed events; the ``meta``/``clock`` row (latest event time) is not on chain and is left out: the replay
of the signed bodies enforces the time rules.
"""

from __future__ import annotations

from typing import Any

from ..._keccak import keccak256
from ...state import State, next_nonce
from ...types import Role
from ...vocab.core import dataset, roles_of
from ...vocab.governance import ACTION_BITS, policy, proposals
from ...vocab.tasks import commits, participants, progress, round_record, task
from ...vocab.tokens import balance, pool, stake


def addresses_of(state: State) -> list[str]:
    """Every address the state knows: role holders, actors, owners, participants, token holders."""
    found: set[str] = set(state.rows("roles")) | set(state.rows("nonces")) | set(state.rows("balances"))
    found |= {record.owner for record in state.rows("datasets").values()}
    found |= {record.owner for record in state.rows("models").values()}
    found |= {address for (_task, address) in state.rows("participants")}
    return sorted(found)


def fate_of(reason: str, update_digest: str) -> str:
    """What the contract stores for a rejected update: ``keccak(keccak(reason) ++ update digest)``, as hex."""
    return keccak256(keccak256(reason.encode()) + bytes.fromhex(update_digest.removeprefix("sha256:"))).hex()


def _records(state: State, dataset_id: str) -> int:
    found = dataset(state, dataset_id)
    return 0 if found is None else getattr(found, "records", None) or 0


def _member(state: State, task_id: str, address: str) -> dict[str, Any]:
    joined = state.get("participants", (task_id, address))
    rounds = sorted(r for (t, r, a) in state.rows("commits") if t == task_id and a == address)
    last = rounds[-1] if rounds else 0
    return {
        "last_round": last,
        "examples": sum(_records(state, d) for d in joined.datasets),
        "last_update": state.get("commits", (task_id, last, address)).update_digest if rounds else None,
    }


def _round(state: State, task_id: str, round_: int) -> dict[str, Any]:
    finalized = round_record(state, task_id, round_)
    assert finalized is not None
    committed = commits(state, task_id, round_)
    fates: dict[str, str] = {a: "accepted" for a in finalized.accepted}
    for address, reason in finalized.rejected:
        fates[address] = fate_of(reason, committed[address].update_digest)  # type: ignore[index]
    return {
        "ok": finalized.status == "ok",
        "accepted": len(finalized.accepted),
        "paid": state.get("rewards", (task_id, round_)) is not None,
        "fates": dict(sorted(fates.items())),
        "slashed": sorted(a for (t, r, a) in state.rows("slashes") if t == task_id and r == round_),
    }


STATUS_CODES = {"open": 1, "executed": 2, "rejected": 3}
"""A proposal's status as Governance.vy stores it."""


def governance_view(state: State) -> dict[str, Any]:
    """The governance part of the view: the policy (its members as a yes per member) and every proposal's storage
    but its expiry (a time, which differs between two runs of the same steps; the replay checks it)."""
    current = policy(state)
    members = () if current is None else current.members
    return {
        "version": 0 if current is None else current.version,
        "threshold": 0 if current is None else current.threshold,
        "actions": 0 if current is None else sum(ACTION_BITS[k] for k in current.actions),
        "member_count": len(members),
        "members": {a: True for a in members},
        "proposals": {
            p.proposal_id: {
                "digest": p.digest.removeprefix("sha256:"),
                "action": ACTION_BITS[p.action],
                "proposer": p.proposer,
                "version": p.policy_version,
                "approvals": len(p.approvals),
                "rejections": len(p.rejections),
                "status": STATUS_CODES[p.status],
            }
            for p in proposals(state)
        },
    }


def project(state: State) -> dict[str, Any]:
    """The storage-kept view of ``state``."""
    view: dict[str, Any] = {
        "roles": {a: sorted(r.value for r in roles_of(state, a)) for a in addresses_of(state)},
        "holders": {r.value: sum(1 for roles in state.rows("roles").values() if r in roles) for r in Role},
        "nonces": {a: next_nonce(state, a) for a in addresses_of(state)},
        "datasets": {
            d: {"owner": r.owner, "records": _records(state, d)} for d, r in sorted(state.rows("datasets").items())
        },
        "models": {m: r.owner for m, r in sorted(state.rows("models").items())},
        "balances": {a: balance(state, a) for a in addresses_of(state)},
        "minted": state.get("meta", "minted", 0),
        "tasks": {},
        "governance": governance_view(state),
    }
    for task_id in sorted(state.rows("tasks")):
        record = task(state, task_id)
        assert record is not None
        current = progress(state, task_id)
        joined = participants(state, task_id)
        view["tasks"][task_id] = {
            "aggregator": record.aggregator,
            "min_participants": record.min_participants,
            "reward_pool": record.reward_pool,
            "min_stake": record.min_stake,
            "slash_amount": record.slash_amount,
            "slash_on": sorted(record.slash_on),
            "rounds": record.rounds,
            "finalized": current.finalized,
            "global_model": current.global_digest,
            "pool": pool(state, task_id),
            "participants": joined,
            "members": {a: _member(state, task_id, a) for a in joined},
            "stakes": {a: stake(state, task_id, a) for a in joined},
            "settled": state.get("settled", task_id) is not None,
            "round_info": {r: _round(state, task_id, r) for r in range(1, current.finalized + 1)},
        }
    return view


def differences(expected: Any, found: Any, path: str = "") -> list[str]:
    """Dotted paths where two views differ (``tasks.t1.min_stake``), in order."""
    if isinstance(expected, dict) and isinstance(found, dict):
        paths: list[str] = []
        for key in [*expected, *(k for k in found if k not in expected)]:
            where = f"{path}.{key}" if path else str(key)
            if key not in expected or key not in found:
                paths.append(where)
            else:
                paths.extend(differences(expected[key], found[key], where))
        return paths
    return [] if expected == found else [path or "(view)"]
