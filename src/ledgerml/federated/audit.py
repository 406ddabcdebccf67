"""The round auditor: replay every round of a task from the ledger and the stored updates, and report
each place where what the aggregator recorded is not what the rules give."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._json import loads_bounded
from ..errors import LedgerMLError, NotFound
from ..identity import recover_signer
from ..ledger.base import LedgerBackend
from ..ml.serialization import Weights, from_bytes, to_bytes
from ..state import State
from ..store import ArtifactStore
from ..types import Address, Digest
from ..vocab.tasks import CommitRecord, RoundRecord, TaskRecord, commits, example_bound, progress, round_record, task
from .coordinator import MISMATCH, decide_round, update_verdict
from .sampling import RoundSampler, not_sampled_reason
from .screening import TaskScreening, audit_screening


@dataclass
class RoundAudit:
    """The replay of one round."""

    round: int
    status: str
    committed: int
    accepted: int
    rejected: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True if the replay matched the record."""
        return not self.problems


@dataclass
class TaskAudit:
    """The replay of a whole task."""

    task_id: str
    rounds: list[RoundAudit] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True only if every round replayed exactly as recorded."""
        return not self.problems and all(r.ok for r in self.rounds)

    def to_dict(self) -> dict[str, Any]:
        """JSON data."""
        return {
            "task": self.task_id,
            "ok": self.ok,
            "problems": self.problems,
            "rounds": [
                {
                    "round": r.round,
                    "status": r.status,
                    "committed": r.committed,
                    "accepted": r.accepted,
                    "rejected": r.rejected,
                    "ok": r.ok,
                    "problems": r.problems,
                }
                for r in self.rounds
            ],
        }


def _justified(recorded: str, verdict: str, store: ArtifactStore, committed_digest: str) -> bool:
    if recorded == verdict:
        return True
    if recorded.startswith(MISMATCH) and verdict == "update bytes are not in the store":
        received = recorded.removeprefix(MISMATCH)
        return received != committed_digest and store.has(received) and _intact(store, received)
    return False


def _intact(store: ArtifactStore, digest: str) -> bool:
    try:
        store.get(digest)
    except LedgerMLError:
        return False
    return True


def audit_task(ledger: LedgerBackend, store: ArtifactStore, task_id: str) -> TaskAudit:
    """Replay every finalized round of ``task_id``."""
    state = ledger.state()
    record = task(state, task_id)
    if record is None:
        raise NotFound(f"task {task_id!r} does not exist")
    report = TaskAudit(task_id)
    base_digest = record.initial_model
    finalized = progress(state, task_id).finalized
    screening = TaskScreening(state, store, record, update_verdict)
    sampler = RoundSampler(ledger, record)
    for round_ in range(1, finalized + 1):
        recorded = round_record(state, task_id, round_)
        assert recorded is not None
        round_commits = commits(state, task_id, round_)
        audit = RoundAudit(round_, recorded.status, len(round_commits), len(recorded.accepted), len(recorded.rejected))
        report.rounds.append(audit)
        try:
            template: Weights = from_bytes(store.get(base_digest))
        except LedgerMLError as exc:
            audit.problems.append(f"base model {base_digest} unavailable: {exc}")
            break
        if record.secure_settings():  # secure aggregation: no update is stored in the clear (secagg_audit)
            from .secagg_audit import audit_secure_round

            base_digest = audit_secure_round(
                store, state, ledger.ledger_id, record, round_, round_commits, template, base_digest, audit.problems
            )
            continue
        round_commits = _check_sample(sampler, recorded, round_, round_commits, audit)
        usable = _replay_updates(ledger, store, state, record, recorded, round_commits, base_digest, template, audit)
        usable = _replay_screening(screening, record, recorded, round_, usable, template, audit)
        base_digest = _check_outcome(store, record, recorded, round_commits, template, usable, base_digest, audit)
        audit.accepted, audit.rejected = len(recorded.accepted), len(recorded.rejected)
    if base_digest != progress(state, task_id).global_digest:
        report.problems.append("the task's current global model is not the last round's aggregate")
    return report


def _check_sample(
    sampler: RoundSampler,
    recorded: RoundRecord,
    round_: int,
    round_commits: dict[Address, CommitRecord],
    audit: RoundAudit,
) -> dict[Address, CommitRecord]:
    """For a task that samples (``federated.sampling``): every commitment from outside the round's sample must be
    rejected as such, never accepted; the sampled commitments, which the rest of the replay checks."""
    sample = sampler.sample(round_)
    if sample is None:
        return round_commits
    reasons, expected = dict(recorded.rejected), not_sampled_reason(round_)
    for participant in sorted(set(round_commits) - sample):
        if participant in recorded.accepted:
            audit.problems.append(f"{participant}: accepted in round {round_} but not in the round's sample")
        elif reasons.get(participant) != expected:
            audit.problems.append(
                f"{participant}: committed outside the round's sample, recorded as {reasons.get(participant)!r}"
            )
    return {a: c for a, c in round_commits.items() if a in sample}


def _replay_updates(
    ledger: LedgerBackend,
    store: ArtifactStore,
    state: State,
    record: TaskRecord,
    recorded: RoundRecord,
    round_commits: dict[Address, CommitRecord],
    base_digest: str,
    template: Weights,
    audit: RoundAudit,
) -> dict[Address, Weights]:
    """Check every commitment's signature and replay its update's validation; the usable updates."""
    usable: dict[Address, Weights] = {}
    reasons = dict(recorded.rejected)
    for participant, commit in sorted(round_commits.items()):
        try:
            event = ledger.get_event(commit.event_id).event
            signer = recover_signer(event.digest, event.signature)
        except LedgerMLError as exc:
            audit.problems.append(f"{participant}: commitment unreadable or badly signed: {exc}")
            continue
        if signer != participant or event.actor != participant:
            audit.problems.append(f"{participant}: commitment is signed by {signer}, not by the participant")
        if event.payload.get("update_digest") != commit.update_digest or commit.base_digest != base_digest:
            audit.problems.append(f"{participant}: commitment does not match the recorded update or base model")
        weights, verdict = update_verdict(
            store,
            commit,
            template,
            record.max_update_norm,
            example_bound=example_bound(state, record.task_id, participant),
        )
        if weights is None:
            assert verdict is not None
            if participant not in reasons:
                audit.problems.append(f"{participant}: update is unusable ({verdict}) but was not rejected")
            elif not _justified(reasons[participant], verdict, store, commit.update_digest):
                audit.problems.append(f"{participant}: rejected for {reasons[participant]!r}, replay says {verdict!r}")
        else:
            usable[participant] = weights
    return usable


def _replay_screening(
    screening: TaskScreening,
    record: TaskRecord,
    recorded: RoundRecord,
    round_: int,
    usable: dict[Address, Weights],
    template: Weights,
    audit: RoundAudit,
) -> dict[Address, Weights]:
    """Replay the task's screening policy (``federated.screening``) on the usable updates: the ones the rule saw."""
    metrics = loads_bounded(recorded.metrics)
    kept, problems = audit_screening(
        screening, record, round_, {str(a): w for a, w in usable.items()}, template, (dict(recorded.rejected), metrics)
    )
    audit.problems.extend(problems)
    return {Address(a): w for a, w in kept.items()}


def _check_outcome(
    store: ArtifactStore,
    record: TaskRecord,
    recorded: RoundRecord,
    round_commits: dict[Address, CommitRecord],
    template: Weights,
    usable: dict[Address, Weights],
    base_digest: str,
    audit: RoundAudit,
) -> str:
    """Re-run the recorded rule on the usable updates and compare accepted, rejected, status and aggregate;
    the next round's base model digest."""
    reasons = dict(recorded.rejected)
    examples = {a: c.num_examples for a, c in round_commits.items()}
    decision = decide_round(record, template, usable, examples, round_=audit.round)
    expected_accepted = decision.accepted()
    expected_rule_rejections = decision.rule_rejections()
    if expected_accepted != sorted(recorded.accepted):
        audit.problems.append(f"accepted {sorted(recorded.accepted)} but the rule accepts {expected_accepted}")
    for participant in usable:
        if participant in reasons and reasons[participant] != expected_rule_rejections.get(participant):
            audit.problems.append(
                f"{participant}: rejection {reasons[participant]!r} is not what the rule "
                f"gives ({expected_rule_rejections.get(participant)!r})"
            )
    if recorded.status == "ok":
        if decision.weights is None or len(expected_accepted) < record.min_participants:
            audit.problems.append("round marked ok without enough usable updates")
        else:
            digest = str(Digest.sha256(to_bytes(decision.weights)))
            if digest != recorded.aggregate_digest:
                audit.problems.append(
                    f"aggregate digest {recorded.aggregate_digest} differs from the replay's {digest}"
                )
            elif not _intact(store, digest):
                audit.problems.append(f"stored aggregate {digest} is missing or changed")
        base_digest = recorded.aggregate_digest or base_digest
    elif decision.weights is not None and len(expected_accepted) >= record.min_participants:
        audit.problems.append("round marked failed although enough updates were usable")
    return base_digest
