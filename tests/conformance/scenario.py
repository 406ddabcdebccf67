"""A federated task from creation to settlement, written against ``LedgerBackend`` only, and the rejections
each stage must give. The conformance suite runs it on every backend and compares the resulting states."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ledgerml import DatasetRegistered, Identity, LedgerBackend, ModelRegistered, Payload, RoleGranted, RoleRevoked
from ledgerml.errors import (
    DuplicateRegistration,
    InsufficientFunds,
    InvalidTransition,
    RejectedEvent,
    Unauthorized,
    UnknownReference,
)
from ledgerml.ledger.blocks import BlockHeader, sign_block
from ledgerml.types import Role
from ledgerml.vocab.rewards import RewardPaid, StakeSlashed, TaskSettled
from ledgerml.vocab.tasks import ParticipantJoined, Rejection, RoundFinalized, TaskCreated, UpdateCommitted
from ledgerml.vocab.tokens import TokensMinted, TokensTransferred

from ..conftest import make_identity
from .steps import steps_for

TASK = "hospital-ct"


def digest(tag: str) -> str:
    """A recognisable fake sha256 digest."""
    return "sha256:" + tag.encode().hex().ljust(64, "0")[:64]


D_ALICE, D_CAROL, M0, A1 = digest("d-alice"), digest("d-carol"), digest("m0"), digest("agg1")
U = {name: digest("u1-" + name) for name in ("alice", "bob", "carol")}
U2 = {name: digest("u2-" + name) for name in ("alice", "bob")}
REASON = "norm bound exceeded: 41.2 > 10"
RECORDS = {"alice": 300, "carol": 120}
"""Records in each dataset (``metadata["records"]``): an update claims at most its owner's records; bob, a
trainer who joins with no dataset, claims 0 examples."""
EXAMPLES = {"alice": 100, "bob": 0, "carol": 120}


@dataclass
class Cast:
    """The actors: ``admin`` also aggregates; ``carol`` sends a poisoned update and is slashed; ``dave``
    owns data but never joins."""

    admin: Identity
    alice: Identity
    bob: Identity
    carol: Identity
    dave: Identity

    @classmethod
    def make(cls, admin: Identity, alice: Identity, bob: Identity) -> Cast:
        return cls(admin, alice, bob, make_identity("carol", 7001), make_identity("dave", 7002))

    def all(self) -> list[Identity]:
        return [self.admin, self.alice, self.bob, self.carol, self.dave]


def setup_task(ledger: LedgerBackend, c: Cast) -> None:
    """Roles, datasets, the task, its pool and three funded participants who joined with stakes."""
    ledger.submit_batch(
        c.admin,
        [
            RoleGranted(subject=c.alice.address, role=Role.DATA_OWNER),
            RoleGranted(subject=c.bob.address, role=Role.TRAINER),
            RoleGranted(subject=c.carol.address, role=Role.DATA_OWNER),
            RoleGranted(subject=c.admin.address, role=Role.AGGREGATOR),
            RoleGranted(subject=c.dave.address, role=Role.DATA_OWNER),
        ],
    )
    ledger.submit(
        c.alice, DatasetRegistered(dataset_id=D_ALICE, name="alice's scans", metadata={"records": RECORDS["alice"]})
    )
    ledger.submit(
        c.carol, DatasetRegistered(dataset_id=D_CAROL, name="carol's scans", metadata={"records": RECORDS["carol"]})
    )
    ledger.submit(
        c.admin,
        TaskCreated(
            task_id=TASK,
            name="CT triage",
            model_spec=digest("spec"),
            initial_model=M0,
            rounds=2,
            rule="fedavg",
            reward_pool=1000,
            min_stake=10,
            slash_on=["norm bound"],
            slash_amount=5,
        ),
    )
    ledger.submit_batch(
        c.admin,
        [
            TokensMinted(amount=1000, task_id=TASK),
            TokensMinted(amount=100, to=c.alice.address),
            TokensMinted(amount=100, to=c.bob.address),
            TokensMinted(amount=100, to=c.carol.address),
            TokensMinted(amount=5, to=c.dave.address),
        ],
    )
    ledger.submit(c.alice, ParticipantJoined(task_id=TASK, datasets=[D_ALICE], stake=10))
    ledger.submit(c.bob, ParticipantJoined(task_id=TASK, stake=20))
    ledger.submit(c.carol, ParticipantJoined(task_id=TASK, datasets=[D_CAROL], stake=10))


def commit_round_one(ledger: LedgerBackend, c: Cast) -> None:
    for name in ("alice", "bob", "carol"):
        who: Identity = getattr(c, name)
        ledger.submit(
            who,
            UpdateCommitted(task_id=TASK, round=1, update_digest=U[name], base_digest=M0, num_examples=EXAMPLES[name]),
        )


def finalize_round_one(ledger: LedgerBackend, c: Cast) -> None:
    ledger.submit(
        c.admin,
        RoundFinalized(
            task_id=TASK,
            round=1,
            status="ok",
            aggregate_digest=A1,
            accepted=[c.bob.address, c.alice.address],  # not sorted: order carries no meaning
            rejected=[Rejection(participant=c.carol.address, reason=REASON)],
            metrics={"accuracy": 0.81},
        ),
    )


def rewards_one(c: Cast) -> RewardPaid:
    # budget = min(1000 // 2 rounds, pool 1000) = 500; contributions 3:1 -> 375 and 125
    return RewardPaid(
        task_id=TASK,
        round=1,
        contributions={c.alice.address: 3_000_000, c.bob.address: 1_000_000},
        payments={c.alice.address: 375, c.bob.address: 125},
    )


def slash_carol() -> Callable[[Cast], StakeSlashed]:
    return lambda c: StakeSlashed(
        task_id=TASK, round=1, participant=c.carol.address, amount=5, reason=REASON, update_digest=U["carol"]
    )


def finish(ledger: LedgerBackend, c: Cast) -> None:
    """Rewards and slash of round one, a failed round two, settlement and a transfer."""
    ledger.submit(c.admin, rewards_one(c))
    ledger.submit(c.admin, slash_carol()(c))
    for name in ("alice", "bob"):
        who: Identity = getattr(c, name)
        ledger.submit(
            who,
            UpdateCommitted(
                task_id=TASK, round=2, update_digest=U2[name], base_digest=A1, num_examples=EXAMPLES[name] // 2
            ),
        )
    ledger.submit(
        c.admin,
        RoundFinalized(
            task_id=TASK,
            round=2,
            status="failed",
            aggregate_digest=None,
            accepted=[c.alice.address],
            rejected=[Rejection(participant=c.bob.address, reason="late")],
        ),
    )
    ledger.submit(c.admin, TaskSettled(task_id=TASK))
    ledger.submit(c.alice, TokensTransferred(to=c.bob.address, amount=50))
    # the round-one aggregate registered as a model, and a role granted and taken back: every kind appears here
    ledger.submit(c.admin, ModelRegistered(model_id=A1, name="round 1 aggregate", task=TASK, round=1))
    ledger.submit(c.admin, RoleGranted(subject=c.carol.address, role=Role.AUDITOR))
    ledger.submit(c.admin, RoleRevoked(subject=c.carol.address, role=Role.AUDITOR))


def full_task(ledger: LedgerBackend, c: Cast) -> None:
    """The whole scenario, then the steps later vocabularies add (``tests/conformance/steps``)."""
    setup_task(ledger, c)
    commit_round_one(ledger, c)
    finalize_round_one(ledger, c)
    finish(ledger, c)
    for step in steps_for(on_chain_only=type(ledger).__module__.startswith("ledgerml.ledger.evm")):
        step(ledger, c)


Stage = Callable[[LedgerBackend, Cast], None]


def _joined(ledger: LedgerBackend, c: Cast) -> None:
    setup_task(ledger, c)


def _committed(ledger: LedgerBackend, c: Cast) -> None:
    setup_task(ledger, c)
    commit_round_one(ledger, c)


def _finalized(ledger: LedgerBackend, c: Cast) -> None:
    _committed(ledger, c)
    finalize_round_one(ledger, c)


def _slashed(ledger: LedgerBackend, c: Cast) -> None:
    _finalized(ledger, c)
    ledger.submit(c.admin, rewards_one(c))
    ledger.submit(c.admin, slash_carol()(c))


def _update(round_: int, base: str, tag: str = "x", examples: int = 1) -> UpdateCommitted:
    return UpdateCommitted(
        task_id=TASK, round=round_, update_digest=digest(tag), base_digest=base, num_examples=examples
    )


# (stage reached first, actor, payload, error) for every task and token rule
REJECTIONS: dict[str, tuple[Stage, str, Callable[[Cast], Payload], type[RejectedEvent]]] = {
    "task_twice": (
        _joined,
        "admin",
        lambda c: TaskCreated(task_id=TASK, name="again", model_spec=M0, initial_model=M0, rounds=1, rule="fedavg"),
        DuplicateRegistration,
    ),
    "task_without_role": (
        _joined,
        "alice",
        lambda c: TaskCreated(task_id="other", name="x", model_spec=M0, initial_model=M0, rounds=1, rule="fedavg"),
        Unauthorized,
    ),
    "task_unknown_validation_set": (
        _joined,
        "admin",
        lambda c: TaskCreated(
            task_id="other",
            name="x",
            model_spec=M0,
            initial_model=M0,
            rounds=1,
            rule="fedavg",
            validation_dataset=digest("nope"),
        ),
        UnknownReference,
    ),
    "join_twice": (_joined, "alice", lambda c: ParticipantJoined(task_id=TASK, stake=10), DuplicateRegistration),
    "join_unknown_task": (_joined, "alice", lambda c: ParticipantJoined(task_id="nope", stake=10), UnknownReference),
    "join_without_role": (_joined, "admin", lambda c: ParticipantJoined(task_id=TASK, stake=10), Unauthorized),
    "join_foreign_dataset": (
        _joined,
        "dave",
        lambda c: ParticipantJoined(task_id=TASK, datasets=[D_ALICE], stake=10),
        Unauthorized,
    ),
    "join_unknown_dataset": (
        _joined,
        "dave",
        lambda c: ParticipantJoined(task_id=TASK, datasets=[digest("nope")], stake=10),
        UnknownReference,
    ),
    "join_below_minimum_stake": (
        _joined,
        "dave",
        lambda c: ParticipantJoined(task_id=TASK, stake=5),
        InvalidTransition,
    ),
    "join_without_funds": (_joined, "dave", lambda c: ParticipantJoined(task_id=TASK, stake=10), InsufficientFunds),
    "commit_not_joined": (_joined, "admin", lambda c: _update(1, M0), Unauthorized),
    "commit_wrong_round": (_joined, "alice", lambda c: _update(2, M0), InvalidTransition),
    "commit_wrong_base": (_joined, "alice", lambda c: _update(1, A1), InvalidTransition),
    "commit_twice": (_committed, "alice", lambda c: _update(1, M0), DuplicateRegistration),
    "commit_more_examples_than_records": (
        _joined,
        "alice",
        lambda c: _update(1, M0, examples=RECORDS["alice"] + 1),
        InvalidTransition,
    ),
    "commit_examples_without_datasets": (_joined, "bob", lambda c: _update(1, M0), InvalidTransition),
    "finalize_not_aggregator": (
        _committed,
        "alice",
        lambda c: RoundFinalized(
            task_id=TASK,
            round=1,
            status="failed",
            aggregate_digest=None,
            accepted=[c.alice.address, c.bob.address, c.carol.address],
        ),
        Unauthorized,
    ),
    "finalize_missing_commit": (
        _committed,
        "admin",
        lambda c: RoundFinalized(
            task_id=TASK, round=1, status="ok", aggregate_digest=A1, accepted=[c.alice.address, c.bob.address]
        ),
        InvalidTransition,
    ),
    "finalize_listed_twice": (
        _committed,
        "admin",
        lambda c: RoundFinalized(
            task_id=TASK,
            round=1,
            status="ok",
            aggregate_digest=A1,
            accepted=[c.alice.address, c.bob.address, c.carol.address],
            rejected=[Rejection(participant=c.carol.address, reason="x")],
        ),
        InvalidTransition,
    ),
    "finalize_uncommitted": (
        _committed,
        "admin",
        lambda c: RoundFinalized(
            task_id=TASK,
            round=1,
            status="ok",
            aggregate_digest=A1,
            accepted=[c.alice.address, c.bob.address, c.carol.address, c.admin.address],
        ),
        InvalidTransition,
    ),
    "finalize_too_few": (
        _committed,
        "admin",
        lambda c: RoundFinalized(
            task_id=TASK,
            round=1,
            status="ok",
            aggregate_digest=A1,
            rejected=[Rejection(participant=p, reason="x") for p in (c.alice.address, c.bob.address, c.carol.address)],
        ),
        InvalidTransition,
    ),
    "rewards_wrong_payments": (
        _finalized,
        "admin",
        lambda c: RewardPaid(
            task_id=TASK,
            round=1,
            contributions={c.alice.address: 3, c.bob.address: 1},
            payments={c.alice.address: 400, c.bob.address: 100},
        ),
        InvalidTransition,
    ),
    "rewards_wrong_participants": (
        _finalized,
        "admin",
        lambda c: RewardPaid(
            task_id=TASK,
            round=1,
            contributions={c.alice.address: 1, c.carol.address: 1},
            payments={c.alice.address: 250, c.carol.address: 250},
        ),
        InvalidTransition,
    ),
    "rewards_open_round": (_committed, "admin", rewards_one, InvalidTransition),
    "rewards_not_aggregator": (_finalized, "alice", rewards_one, Unauthorized),
    "slash_accepted": (
        _finalized,
        "admin",
        lambda c: StakeSlashed(
            task_id=TASK, round=1, participant=c.alice.address, amount=5, reason=REASON, update_digest=U["alice"]
        ),
        InvalidTransition,
    ),
    "slash_wrong_update": (
        _finalized,
        "admin",
        lambda c: StakeSlashed(
            task_id=TASK, round=1, participant=c.carol.address, amount=5, reason=REASON, update_digest=U["bob"]
        ),
        InvalidTransition,
    ),
    "slash_wrong_amount": (
        _finalized,
        "admin",
        lambda c: StakeSlashed(
            task_id=TASK, round=1, participant=c.carol.address, amount=10, reason=REASON, update_digest=U["carol"]
        ),
        InvalidTransition,
    ),
    "slash_twice": (_slashed, "admin", lambda c: slash_carol()(c), DuplicateRegistration),
    "rewards_twice": (_slashed, "admin", rewards_one, DuplicateRegistration),
    "settle_early": (_finalized, "admin", lambda c: TaskSettled(task_id=TASK), InvalidTransition),
    "mint_without_role": (_joined, "alice", lambda c: TokensMinted(amount=5, to=c.alice.address), Unauthorized),
    "mint_unknown_task": (_joined, "admin", lambda c: TokensMinted(amount=5, task_id="nope"), UnknownReference),
    "transfer_too_much": (
        _joined,
        "alice",
        lambda c: TokensTransferred(to=c.bob.address, amount=91),
        InsufficientFunds,
    ),
}


def backdated_copy(last: BlockHeader, previous: BlockHeader, validator: Identity) -> BlockHeader:
    """``last`` re-signed with a time before ``previous``'s: a forged, backwards-dated block."""
    return sign_block(
        validator,
        ledger=last.ledger,
        height=last.height,
        prev_hash=last.prev_hash,
        log_size=last.log_size,
        log_root=last.log_root,
        time=previous.time - 1,
    )
