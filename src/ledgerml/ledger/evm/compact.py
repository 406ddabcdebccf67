"""Event bodies rebuilt from compact logs: ``Committed`` carries an UpdateCommitted's typed fields and signature.

The contract logs no body for a commitment (it is the most frequent event, and its body is two thirds of its
gas). The fields determine the body: actor (the transaction's sender), nonce, time and signature from the log,
the payload's digests, round and example count from the log, and the task id from the task's key via the
task's own ``TaskCreated`` (already replayed: only members of existing tasks can commit). ``Event`` encodes
them canonically, so the rebuilt body is byte for byte the one the participant signed: its digest, signature
and Merkle leaf are those of the same event on any backend, and a body that was not signed does not verify.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...errors import MalformedEvent
from ...events import Event
from ...state import State
from ...types import Address
from ...vocab.evm import task_key, unpack_commit
from ...vocab.tasks import UpdateCommitted


class TaskNames:
    """Task ids by contract key, read from a replayed state (refreshed when a key is not known yet)."""

    def __init__(self) -> None:
        self.names: dict[bytes, str] = {}

    def lookup(self, state: State, key: bytes) -> str:
        """The id of the task whose key is ``key``; ``MalformedEvent`` if no replayed task has it."""
        if key not in self.names:
            self.names = {task_key(task_id): task_id for task_id in state.rows("tasks")}
        if key not in self.names:
            raise MalformedEvent(f"the commitment names task key 0x{key.hex()}, which no replayed task has")
        return self.names[key]


def commit_event(ledger_id: str, args: Mapping[str, Any], task_id: str) -> Event:
    """The signed UpdateCommitted a ``Committed`` log stands for."""
    nonce, round_, num_examples, time, signature = unpack_commit(int(args["packed"]), args["r"], args["s"])
    payload = {
        "task_id": task_id,
        "round": round_,
        "update_digest": "sha256:" + bytes(args["update"]).hex(),
        "base_digest": "sha256:" + bytes(args["base"]).hex(),
        "num_examples": num_examples,
    }
    return Event(
        ledger=ledger_id,
        kind=UpdateCommitted.kind,
        actor=Address(str(args["actor"])),
        nonce=nonce,
        time=time,
        payload=payload,
        signature=signature,
    )


def as_appended(log: Mapping[str, Any], ledger_id: str, state: State, names: TaskNames) -> dict[str, Any]:
    """A ``Committed`` log in the shape of an ``Appended`` one (``args``: actor, nonce, body), so every reader
    treats both alike; a log whose task is unknown gets an empty body and an ``error``, which readers report."""
    args = log["args"]
    nonce = int(args["packed"]) & (2**64 - 1)
    try:
        event = commit_event(ledger_id, args, names.lookup(state, bytes(args["task"])))
    except MalformedEvent as exc:
        return {**log, "args": {"actor": args["actor"], "nonce": nonce, "body": b"", "error": str(exc)}}
    return {**log, "args": {"actor": args["actor"], "nonce": nonce, "body": event.body}}
