"""Federations honour grants: a participant trains on data it owns or holds a live grant for, at join and each round."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledgerml import DatasetRegistered, Identity, Ledger, RoleGranted, sqlite_url
from ledgerml.errors import Unauthorized
from ledgerml.types import Role
from ledgerml.vocab.access import (
    AccessGranted,
    AccessRevoked,
    DataKeyRotated,
    DatasetEncrypted,
    EncryptionKeyRegistered,
)
from ledgerml.vocab.tasks import ParticipantJoined, TaskCreated, UpdateCommitted

from ..conformance.scenario import digest

DATA, TASK, M0 = digest("cohort"), "grants", digest("m0")


def _people() -> tuple[Identity, Identity, Identity, Identity]:
    return tuple(  # type: ignore[return-value]
        Identity.from_private_key(name, (seed + 1).to_bytes(32, "big"))
        for name, seed in (("admin", 10), ("owner", 20), ("granted", 30), ("stranger", 40))
    )


def test_a_grantee_joins_a_stranger_does_not_and_a_revoked_grantee_commits_no_more(tmp_path: Path) -> None:
    admin, owner, granted, stranger = _people()
    with Ledger.create(sqlite_url(tmp_path / "ledger.db"), admin=admin) as ledger:
        ledger.submit_batch(
            admin,
            [
                RoleGranted(subject=owner.address, role=Role.DATA_OWNER),
                RoleGranted(subject=granted.address, role=Role.TRAINER),
                RoleGranted(subject=stranger.address, role=Role.TRAINER),
                RoleGranted(subject=admin.address, role=Role.AGGREGATOR),
            ],
        )
        ledger.submit(owner, DatasetRegistered(dataset_id=DATA, name="cohort", metadata={"records": 100}))
        ledger.submit(owner, EncryptionKeyRegistered(public_key="a1" * 32))
        ledger.submit_batch(
            owner,
            [
                DataKeyRotated(dataset_id=DATA, epoch=0, keys=digest("k0"), readers=[owner.address]),
                DatasetEncrypted(dataset_id=DATA, series=DATA, epoch=0, sealed=digest("sealed")),
            ],
        )
        ledger.submit(granted, EncryptionKeyRegistered(public_key="b0" * 32))
        ledger.submit(
            owner,
            AccessGranted(
                dataset_id=DATA, grantee=granted.address, epoch=0, wrapped_key=digest("w"), recipient_key="b0" * 32
            ),
        )
        ledger.submit(
            admin,
            TaskCreated(task_id=TASK, name="t", model_spec=digest("spec"), initial_model=M0, rounds=2, rule="fedavg"),
        )
        ledger.submit(granted, ParticipantJoined(task_id=TASK, datasets=[DATA]))
        size = ledger.size
        with pytest.raises(Unauthorized, match="holds no live grant"):
            ledger.submit(stranger, ParticipantJoined(task_id=TASK, datasets=[DATA]))
        assert ledger.size == size
        ledger.submit_batch(
            owner,
            [
                AccessRevoked(dataset_id=DATA, grantee=granted.address, reason="study closed"),
                DataKeyRotated(dataset_id=DATA, epoch=1, keys=digest("k1"), readers=[owner.address]),
            ],
        )
        update = UpdateCommitted(task_id=TASK, round=1, update_digest=digest("u"), base_digest=M0, num_examples=10)
        size = ledger.size
        with pytest.raises(Unauthorized, match="may no longer use dataset"):
            ledger.submit(granted, update)
        assert ledger.size == size
        assert ledger.verify().ok
