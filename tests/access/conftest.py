"""A ledger with an owner (alice), two readers (bob, carol) whose encryption keys are registered, and a store."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledgerml.access import register_encryption_key, seal_dataset
from ledgerml.identity import Identity
from ledgerml.ledger.sqlite import SqliteLedger
from ledgerml.store import LocalStore
from ledgerml.types import Role
from ledgerml.vocab.core import RoleGranted

from ..conftest import make_identity

CHUNK = 4096


def with_key(identity: Identity, seed: int) -> Identity:
    """``identity`` with a fixed X25519 key."""
    return identity.with_encryption_key(seed.to_bytes(32, "big"))


@dataclass
class World:
    ledger: SqliteLedger
    store: LocalStore
    admin: Identity
    alice: Identity
    bob: Identity
    carol: Identity
    dave: Identity  # no encryption key registered
    data: Path

    def seal(self, path: Path | None = None, **options: object):  # type: ignore[no-untyped-def]
        return seal_dataset(self.ledger, self.store, self.alice, path or self.data, chunk_size=CHUNK, **options)


@pytest.fixture
def world(sqlite_ledger: SqliteLedger, admin: Identity, tmp_path: Path) -> Iterator[World]:
    alice, bob = with_key(make_identity("alice", 2000), 1), with_key(make_identity("bob", 3000), 2)
    carol, dave = with_key(make_identity("carol", 4000), 3), with_key(make_identity("dave", 5000), 4)
    sqlite_ledger.submit(admin, RoleGranted(subject=alice.address, role=Role.DATA_OWNER))
    for reader in (bob, carol):
        register_encryption_key(sqlite_ledger, reader)
    data = tmp_path / "patients.csv"
    data.write_text("age,outcome\n" + "".join(f"{20 + i % 60},{i % 2}\n" for i in range(3000)))
    yield World(sqlite_ledger, LocalStore(tmp_path / "store"), admin, alice, bob, carol, dave, data)
