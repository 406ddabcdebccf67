"""The auditor's replay of a secure round: the published aggregate must be the sum of the committed masked
inputs minus the masks reconstructed from the shares the survivors revealed (signed, on the ledger), with
dropped clients handled as the protocol says; each mismatch is a problem of the round."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import LedgerMLError
from ..ml.serialization import Weights, to_bytes
from ..state import State
from ..store import ArtifactStore
from ..types import Address, Digest
from ..vocab.secagg import SecAggRecord, secagg_records, unmask_record
from ..vocab.tasks import CommitRecord, RoundRecord, TaskRecord, round_record
from .coordinator import MISMATCH
from .secagg_round import masked_vector, parse_doc, unmask_doc, unmask_round
from .secure import protocol, quantize


def audit_secure_round(
    store: ArtifactStore,
    state: State,
    ledger_id: str,
    record: TaskRecord,
    round_: int,
    committed: Mapping[Address, CommitRecord],
    template: Weights,
    base_digest: str,
    problems: list[str],
) -> str:
    """Replay round ``round_`` of a secure task, appending what does not hold to ``problems``; the next base
    model digest."""
    round_commits = {str(who): commit for who, commit in committed.items()}
    recorded = round_record(state, record.task_id, round_)
    if recorded is None:
        problems.append(f"round {round_} is not finalized")
        return base_digest
    records = secagg_records(state, record.task_id, round_)
    _check_rejections(store, recorded, round_commits, problems)
    unmask = unmask_record(state, record.task_id, round_)
    context = protocol.context_bytes(ledger_id, record.task_id, round_)
    if recorded.status != "ok":
        if unmask is not None or _unmasks(store, record, records, round_commits, template, context):
            problems.append("round marked failed although the revealed shares unmask a usable aggregate")
        return base_digest
    if unmask is None:
        problems.append("round marked ok without a recorded unmasking")
        return recorded.aggregate_digest or base_digest
    survivors, dropped = list(unmask.survivors), list(unmask.dropped)
    sharers = sorted(n for n, r in records.items() if r.shares_digest is not None)
    if sorted(recorded.accepted) != survivors:
        problems.append(f"accepted {sorted(recorded.accepted)} but the unmasking names survivors {survivors}")
    if sorted(set(survivors) | set(dropped)) != sharers:
        problems.append("survivors and dropped are not exactly the clients that shared their secrets")
    masked = _masked_inputs(store, records, round_commits, survivors, len(template_vector(template)) + 1, problems)
    if masked is None:
        return recorded.aggregate_digest or base_digest
    _check_aggregate(
        store, record, recorded, records, masked, dropped, template, unmask.unmask_digest, context, problems
    )
    return recorded.aggregate_digest or base_digest


def _unmasks(
    store: ArtifactStore,
    record: TaskRecord,
    records: dict[str, SecAggRecord],
    round_commits: dict[str, CommitRecord],
    template: Weights,
    context: bytes,
) -> bool:
    """Whether a round recorded as failed could have finalized: enough committed masked inputs, and the
    signed reveals reconstruct masks under which the sum decodes to a finite aggregate."""
    survivors = sorted(n for n, r in records.items() if r.masked_digest is not None and n in round_commits)
    if len(survivors) < max(protocol.threshold(len(records)), record.min_participants):
        return False
    dropped = sorted(n for n, r in records.items() if r.shares_digest is not None and n not in survivors)
    try:
        length = len(template_vector(template)) + 1
        masked = {n: masked_vector(store.get(round_commits[n].update_digest), length) for n in survivors}
        docs = {n: parse_doc(store.get(r.reveal_digest), "reveal") for n, r in records.items() if r.reveal_digest}
        t, bits = protocol.threshold(len(records)), int(str(record.secure_settings()["frac_bits"]))
        return unmask_round(template, masked, docs, dropped, records, t, context, bits).finite
    except (LedgerMLError, ValueError, KeyError):
        return False


def template_vector(template: Weights) -> Any:
    """The global model as one flat vector."""
    from ..ml.serialization import flatten

    return flatten(template)


def _check_rejections(
    store: ArtifactStore, recorded: RoundRecord, round_commits: dict[str, CommitRecord], problems: list[str]
) -> None:
    """A rejection for a digest mismatch must name received bytes that are stored and are not the committed ones."""
    for who, reason in recorded.rejected:
        if MISMATCH in reason:
            received = reason.split(MISMATCH, 1)[1].split()[0]
            if received == round_commits[who].update_digest or not store.has(received):
                problems.append(f"{who}: rejected for {reason!r}, but the received bytes do not show it")


def _masked_inputs(
    store: ArtifactStore,
    records: dict[str, SecAggRecord],
    round_commits: dict[str, CommitRecord],
    survivors: list[str],
    length: int,
    problems: list[str],
) -> dict[str, Any] | None:
    """The survivors' committed masked inputs, read by their committed digests (None if one is unusable)."""
    masked = {}
    for who in survivors:
        commit, found = round_commits.get(who), records.get(who)
        if commit is None or found is None or found.masked_digest != commit.update_digest:
            problems.append(f"{who}: its SecAggInput does not name the masked input it committed")
            return None
        if found.weight != min(commit.num_examples, quantize.MAX_WEIGHT):
            problems.append(f"{who}: weight {found.weight} is not its capped example count {commit.num_examples}")
        try:
            masked[who] = masked_vector(store.get(commit.update_digest), length)
        except (LedgerMLError, ValueError) as exc:
            problems.append(f"{who}: committed masked input {commit.update_digest} unusable: {exc}")
            return None
    return masked


def _check_aggregate(
    store: ArtifactStore,
    record: TaskRecord,
    recorded: RoundRecord,
    records: dict[str, SecAggRecord],
    masked: dict[str, Any],
    dropped: list[str],
    template: Weights,
    unmask_digest: str,
    context: bytes,
    problems: list[str],
) -> None:
    """Reconstruct the masks from the revealed shares, compare with the recorded unmasking, recompute the sum."""
    t, bits = protocol.threshold(len(records)), int(str(record.secure_settings()["frac_bits"]))
    try:
        docs = {n: parse_doc(store.get(r.reveal_digest), "reveal") for n, r in records.items() if r.reveal_digest}
        found = unmask_round(template, masked, docs, dropped, records, t, context, bits)
    except (LedgerMLError, ValueError) as exc:
        problems.append(f"mask reconstruction from the revealed shares fails: {exc}")
        return
    try:
        if parse_doc(store.get(unmask_digest), "unmask") != unmask_doc(t, found.seeds, found.mask_keys):
            problems.append("the recorded unmasking is not what the revealed shares reconstruct")
    except LedgerMLError as exc:
        problems.append(f"the recorded unmasking {unmask_digest} is unavailable: {exc}")
    if found.weight != sum(int(records[n].weight or 0) for n in masked):
        problems.append(f"the summed weight {found.weight} is not the sum of the survivors' recorded weights")
    digest = str(Digest.sha256(to_bytes(found.weights)))
    if digest != recorded.aggregate_digest:
        problems.append(f"aggregate digest {recorded.aggregate_digest} differs from the secure replay's {digest}")
