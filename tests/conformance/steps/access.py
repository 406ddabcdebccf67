"""Conformance step of the access vocabulary: a key per identity, a sealed dataset, a grant, a logged use, a
revocation with its rotation - and the rejections: a grant by a non-owner, a use after revocation."""

from __future__ import annotations

import pytest

from ledgerml.errors import Unauthorized, UnknownReference
from ledgerml.vocab.access import (
    AccessGranted,
    AccessRevoked,
    AccessUsed,
    DataKeyRotated,
    DatasetEncrypted,
    EncryptionKeyRegistered,
    GrantRevoked,
    series,
)

from ..scenario import D_ALICE, digest

KINDS = (
    "EncryptionKeyRegistered",
    "DataKeyRotated",
    "DatasetEncrypted",
    "AccessGranted",
    "AccessRevoked",
    "AccessUsed",
)
ALICE_KEY, BOB_KEY = "a1" * 32, "b0" * 32


def run(ledger, cast) -> None:  # type: ignore[no-untyped-def]
    """Alice seals her dataset, grants bob, bob reads once, alice revokes bob and rotates to epoch 1."""
    ledger.submit(cast.alice, EncryptionKeyRegistered(public_key=ALICE_KEY))
    ledger.submit(cast.bob, EncryptionKeyRegistered(public_key=BOB_KEY))  # a trainer: any identity registers its key
    with pytest.raises(UnknownReference):
        ledger.submit(
            cast.alice,
            AccessGranted(
                dataset_id=D_ALICE, grantee=cast.bob.address, epoch=0, wrapped_key=digest("w"), recipient_key=BOB_KEY
            ),
        )  # not sealed yet
    ledger.submit_batch(
        cast.alice,
        [
            DataKeyRotated(dataset_id=D_ALICE, epoch=0, keys=digest("keys0"), readers=[cast.alice.address]),
            DatasetEncrypted(dataset_id=D_ALICE, series=D_ALICE, epoch=0, sealed=digest("sealed")),
        ],
    )
    granted = AccessGranted(
        dataset_id=D_ALICE, grantee=cast.bob.address, epoch=0, wrapped_key=digest("wrap-bob"), recipient_key=BOB_KEY
    )
    with pytest.raises(Unauthorized):
        ledger.submit(cast.carol, granted)
    ledger.submit(cast.alice, granted)
    ledger.submit(cast.bob, AccessUsed(dataset_id=D_ALICE, epoch=0, purpose="conformance"))
    ledger.submit_batch(
        cast.alice,
        [
            AccessRevoked(dataset_id=D_ALICE, grantee=cast.bob.address, reason="study ended"),
            DataKeyRotated(dataset_id=D_ALICE, epoch=1, keys=digest("keys1"), readers=[cast.alice.address]),
        ],
    )
    with pytest.raises(GrantRevoked):
        ledger.submit(cast.bob, AccessUsed(dataset_id=D_ALICE, epoch=0))
    record = series(ledger.state(), D_ALICE)
    assert record is not None and record.epoch == 1 and record.readers == (cast.alice.address,)
