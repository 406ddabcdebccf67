"""The part of ledger state the contract keeps in storage, as plain data: what both backends must agree on.

``project(state)`` reads it from a state-machine ``State`` (any backend's); the EVM backend reads the same
keys from contract storage (``EvmLedger.chain_view``). Equal views mean the Vyper rules and the Python rules
reached the same state. Event ids and free text (names, URIs, metrics) live only in the signed events.
"""

from __future__ import annotations

from typing import Any

from ...state import State, next_nonce, roles_of
from ...tasks import participants, progress, round_record, task
from ...tokens import balance, pool, stake
from ...types import Role


def addresses_of(state: State) -> list[str]:
    """Every address the state knows: role holders, actors, owners, participants, token holders."""
    found: set[str] = set(state.rows("roles")) | set(state.rows("nonces")) | set(state.rows("balances"))
    found |= {record.owner for record in state.rows("datasets").values()}
    found |= {record.owner for record in state.rows("models").values()}
    found |= {address for (_task, address) in state.rows("participants")}
    return sorted(found)


def project(state: State) -> dict[str, Any]:
    """The storage-kept view of ``state``."""
    view: dict[str, Any] = {
        "roles": {a: sorted(r.value for r in roles_of(state, a)) for a in addresses_of(state)},
        "holders": {r.value: sum(1 for roles in state.rows("roles").values() if r in roles) for r in Role},
        "nonces": {a: next_nonce(state, a) for a in addresses_of(state)},
        "datasets": {d: r.owner for d, r in sorted(state.rows("datasets").items())},
        "models": {m: r.owner for m, r in sorted(state.rows("models").items())},
        "balances": {a: balance(state, a) for a in addresses_of(state)},
        "minted": state.get("meta", "minted", 0),
        "tasks": {},
    }
    for task_id in sorted(state.rows("tasks")):
        record = task(state, task_id)
        assert record is not None
        current = progress(state, task_id)
        joined = participants(state, task_id)
        rounds = {}
        for round_ in range(1, current.finalized + 1):
            finalized = round_record(state, task_id, round_)
            assert finalized is not None
            rounds[round_] = {
                "ok": finalized.status == "ok",
                "accepted": len(finalized.accepted),
                "paid": state.get("rewards", (task_id, round_)) is not None,
            }
        view["tasks"][task_id] = {
            "aggregator": record.aggregator,
            "rounds": record.rounds,
            "finalized": current.finalized,
            "global_model": current.global_digest,
            "pool": pool(state, task_id),
            "participants": len(joined),
            "stakes": {a: stake(state, task_id, a) for a in joined},
            "settled": state.get("settled", task_id) is not None,
            "round_info": rounds,
        }
    return view
