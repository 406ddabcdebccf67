"""Conformance step of the secure-aggregation vocabulary: one secure round, stage by stage, then an audited
opening; out-of-order stages and an outsider's open request are refused."""

from __future__ import annotations

import pytest

from ledgerml import RoleGranted
from ledgerml.errors import InvalidTransition, Unauthorized
from ledgerml.types import Role
from ledgerml.vocab.secagg import (
    SecAggInput,
    SecAggKeys,
    SecAggReveal,
    SecAggShares,
    SecAggUnmasked,
    UpdateOpened,
    UpdateOpenRequested,
    open_record,
    secagg_records,
    unmask_record,
)
from ledgerml.vocab.tasks import ParticipantJoined, RoundFinalized, TaskCreated, UpdateCommitted

from ..scenario import D_ALICE, digest

KINDS = (
    "SecAggKeys",
    "SecAggShares",
    "SecAggInput",
    "SecAggReveal",
    "SecAggUnmasked",
    "UpdateOpenRequested",
    "UpdateOpened",
)
TASK = "secure-ct"
M0 = digest("secure-m0")


def _stage_one(ledger, cast) -> None:  # type: ignore[no-untyped-def]
    ledger.submit(
        cast.admin,
        TaskCreated(
            task_id=TASK,
            name="secure",
            model_spec=digest("secure-spec"),
            initial_model=M0,
            rounds=1,
            rule="norm_clipped_mean",
            secure_aggregation={"protocol": "ledgerml-secagg/1"},
        ),
    )
    ledger.submit(cast.alice, ParticipantJoined(task_id=TASK, datasets=[D_ALICE]))
    ledger.submit(cast.bob, ParticipantJoined(task_id=TASK))
    for i, who in enumerate((cast.alice, cast.bob)):
        ledger.submit(who, SecAggKeys(task_id=TASK, round=1, cipher_key=f"{i:064x}", mask_key=f"{i + 7:064x}"))
        ledger.submit(
            who,
            SecAggShares(task_id=TASK, round=1, shares_digest=digest(f"s{i}"), self_mask_commitment=digest(f"b{i}")),
        )


def run(ledger, cast) -> None:  # type: ignore[no-untyped-def]
    """Keys, shares, masked inputs, reveals, unmasking, finalization, then an auditor's opening."""
    _stage_one(ledger, cast)
    masked = {"alice": digest("y-alice"), "bob": digest("y-bob")}
    with pytest.raises(InvalidTransition):  # the input needs the UpdateCommitted naming the same bytes first
        ledger.submit(
            cast.alice,
            SecAggInput(task_id=TASK, round=1, masked_digest=masked["alice"], plaintext_commitment=M0, weight=3),
        )
    for name, examples in (("alice", 3), ("bob", 0)):
        who = getattr(cast, name)
        ledger.submit(
            who,
            UpdateCommitted(task_id=TASK, round=1, update_digest=masked[name], base_digest=M0, num_examples=examples),
        )
        ledger.submit(
            who,
            SecAggInput(
                task_id=TASK, round=1, masked_digest=masked[name], plaintext_commitment=digest(name), weight=examples
            ),
        )
        ledger.submit(who, SecAggReveal(task_id=TASK, round=1, reveal_digest=digest(f"r-{name}")))
    survivors = sorted([cast.alice.address, cast.bob.address])
    ledger.submit(cast.admin, SecAggUnmasked(task_id=TASK, round=1, survivors=survivors, unmask_digest=digest("u")))
    ledger.submit(
        cast.admin,
        RoundFinalized(task_id=TASK, round=1, status="ok", aggregate_digest=digest("agg"), accepted=survivors),
    )
    state = ledger.state()
    assert sorted(secagg_records(state, TASK, 1)) == survivors
    assert unmask_record(state, TASK, 1) is not None
    request = UpdateOpenRequested(task_id=TASK, round=1, participant=cast.alice.address, reason="spot check")
    with pytest.raises(Unauthorized):
        ledger.submit(cast.bob, request)
    ledger.submit(cast.admin, RoleGranted(subject=cast.dave.address, role=Role.AUDITOR))
    ledger.submit(cast.dave, request)
    with pytest.raises(InvalidTransition):  # bob was not asked
        ledger.submit(cast.bob, UpdateOpened(task_id=TASK, round=1, opening_digest=digest("o-bob")))
    ledger.submit(cast.alice, UpdateOpened(task_id=TASK, round=1, opening_digest=digest("o-alice")))
    found = open_record(ledger.state(), TASK, 1, cast.alice.address)
    assert found is not None and found.auditor == cast.dave.address and found.opening_digest == digest("o-alice")
