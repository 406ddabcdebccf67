"""Audited openings of one participant's input of a finalized secure round: a signed request by an auditor,
the participant's answer (its salt and mask key, published as a store document), and the auditor's check
that the opened input matches the plaintext commitment and lies within the task's norm bound.

The aggregator cannot open an input: it holds neither the participant's mask key nor its salt, and the
participant answers only a request recorded on the ledger by a holder of the auditor role.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._canonical import canonical_json
from .._json import load_file
from ..errors import ConfigError, DuplicateRegistration, InvalidTransition, LedgerMLError, NotFound
from ..events import build_payload
from ..identity import Identity
from ..ledger.base import LedgerBackend
from ..state import State
from ..store import ArtifactStore
from ..vocab.secagg import OpenRecord, UpdateOpened, UpdateOpenRequested, open_record, secagg_records, unmask_record
from ..vocab.tasks import progress, require_task, task
from .secagg_round import masked_vector, parse_doc, plaintext_commitment
from .secure import protocol, quantize


@dataclass(frozen=True)
class OpenedInput:
    """What the auditor learned by opening one input."""

    participant: str
    round: int
    weight: int
    norm: float
    bound: float
    commitment_ok: bool
    delta: np.ndarray

    @property
    def within_bound(self) -> bool:
        """True if the opened clipped update is within the task's norm bound (plus the rounding of its layout)."""
        return self.norm <= self.bound

    def to_dict(self) -> dict[str, Any]:
        """JSON data (without the update itself)."""
        return {
            "participant": self.participant,
            "round": self.round,
            "weight": self.weight,
            "norm": self.norm,
            "bound": self.bound,
            "commitment_ok": self.commitment_ok,
            "within_bound": self.within_bound,
        }


def request_open(
    ledger: LedgerBackend, auditor: Identity, task_id: str, round_: int, participant: str, reason: str
) -> str:
    """Record the auditor's signed request to open ``participant``'s input of ``round_``; its event id."""
    payload = build_payload(UpdateOpenRequested, task_id=task_id, round=round_, participant=participant, reason=reason)
    return ledger.submit(auditor, payload).event_id


def answer_open(
    ledger: LedgerBackend, store: ArtifactStore, me: Identity, vault: Path, task_id: str, round_: int
) -> str:
    """Answer a recorded open request with the salt and mask key kept in ``vault``; the opening's digest.
    ``ConfigError`` if no auditor asked, ``NotFound`` if this node kept no secrets for that round."""
    asked = open_record(ledger.state(), task_id, round_, me.address)
    if asked is None:
        raise ConfigError(f"no auditor asked {me.address} to open its round {round_} input of {task_id!r}")
    if asked.opening_digest is not None:
        raise DuplicateRegistration(f"{me.address} opened its round {round_} input of {task_id!r} already")
    path = vault / f"{task_id}-{round_}.json"
    if not path.is_file():
        raise NotFound(f"no secure-aggregation secrets kept for round {round_} of {task_id!r} at {path}")
    kept = load_file(path, what="opening secrets")
    digest = str(store.put(canonical_json({"salt": kept["salt"], "mask_key": kept["mask_key"]})))
    ledger.submit(me, UpdateOpened(task_id=task_id, round=round_, opening_digest=digest))
    return digest


def require_secure_round(state: State, task_id: str, round_: int) -> None:
    """Refuse, with one clear error, a task that does not exist, is not secure, or has not finalized ``round_``."""
    record = require_task(state, task_id)
    if record.secure_settings() == {}:
        raise ConfigError(f"task {task_id!r} does not use secure aggregation (no inputs to open)")
    finalized = progress(state, task_id).finalized
    if not 1 <= round_ <= finalized:
        raise InvalidTransition(
            f"round {round_} of {task_id!r} is not finalized ({finalized} finalized); inputs are opened only afterwards"
        )


def require_answered(state: State, task_id: str, round_: int, participant: str) -> OpenRecord:
    """The answered open request for ``participant``'s input of a finalized secure round, or one clear error."""
    require_secure_round(state, task_id, round_)
    if participant not in secagg_records(state, task_id, round_):
        raise NotFound(f"{participant} took no part in round {round_} of {task_id!r}")
    found = open_record(state, task_id, round_, participant)
    if found is None:
        raise NotFound(f"no auditor asked to open {participant}'s round {round_} input of {task_id!r}")
    if found.opening_digest is None:
        raise NotFound(f"{participant} has not answered the request to open its round {round_} input yet")
    return found


def check_opening(
    ledger: LedgerBackend, store: ArtifactStore, task_id: str, round_: int, participant: str
) -> OpenedInput:
    """Open ``participant``'s recorded input with its published opening and check it; ``NotFound`` if it was not
    opened, ``ConfigError`` if the opening does not remove its masks."""
    state = ledger.state()
    found, record = require_answered(state, task_id, round_, participant), task(state, task_id)
    unmask, records = unmask_record(state, task_id, round_), secagg_records(state, task_id, round_)
    if record is None or found.opening_digest is None or unmask is None:
        raise NotFound(f"{participant}'s round {round_} input of {task_id!r} has not been opened")
    mine = records[participant]
    try:
        opening = parse_doc(store.get(found.opening_digest), "opening")
        seed = bytes.fromhex(parse_doc(store.get(unmask.unmask_digest), "unmask")["seeds"][participant])
        masked = store.get(str(mine.masked_digest))
        vector = masked_vector(masked, len(masked) // 8)
        sharers = sorted(n for n, r in records.items() if r.shares_digest is not None)
        public = {n: r.mask_key for n, r in records.items()}
        context = protocol.context_bytes(ledger.ledger_id, task_id, round_)
        opened = protocol.open_input(
            vector, participant, seed, bytes.fromhex(opening["mask_key"]), public, sharers, context
        )
        salt = bytes.fromhex(opening["salt"])
    except (LedgerMLError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"the opening of {participant}'s round {round_} input does not open it: {exc}") from None
    settings = record.secure_settings()
    bits, clip = int(str(settings["frac_bits"])), float(str(settings["clip"]))
    delta, weight = quantize.decode_one(opened, bits)
    bound = clip + math.sqrt(len(delta)) * 2.0 ** -(bits + 1)
    ok = plaintext_commitment(salt, opened) == mine.plaintext_commitment
    return OpenedInput(participant, round_, weight, float(np.linalg.norm(delta)), bound, ok, delta)
