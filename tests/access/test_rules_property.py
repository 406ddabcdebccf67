"""Random histories of grants, revocations, rotations, sealings and reads against the access rules: a refused
event changes nothing, a revoked reader is never wrapped into a later epoch nor allowed a read until granted
again, and every accepted read is by the owner or a live grantee."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerml.errors import RejectedEvent
from ledgerml.events import Payload, sign_event
from ledgerml.identity import Identity
from ledgerml.state import State, apply, next_nonce
from ledgerml.types import Role
from ledgerml.vocab.access import (
    AccessGranted,
    AccessRevoked,
    AccessUsed,
    DataKeyRotated,
    DatasetEncrypted,
    EncryptionKeyRegistered,
    epoch_record,
    grant,
    is_active,
    live_readers,
    series,
)
from ledgerml.vocab.core import DatasetRegistered, LedgerCreated, RoleGranted

from ..conftest import make_identity

LEDGER = "ab" * 16
ADMIN, OWNER = make_identity("admin", 1), make_identity("owner", 2)
READERS = [make_identity(f"r{i}", 10 + i) for i in range(3)]
D0 = "sha256:" + "d0" * 32


def key_of(who: Identity) -> str:
    return f"{READERS.index(who) + 1:02x}" * 32 if who in READERS else "ee" * 32


class History:
    def __init__(self) -> None:
        self.state, self.time, self.versions = State(), 1, 0
        self.do(ADMIN, LedgerCreated(name="t", admin=ADMIN.address, validator=ADMIN.address))
        self.do(ADMIN, RoleGranted(subject=OWNER.address, role=Role.DATA_OWNER))
        self.do(OWNER, DatasetRegistered(dataset_id=D0, name="d0"))
        for who in (OWNER, *READERS[:2]):  # the third reader never registers a key
            self.do(who, EncryptionKeyRegistered(public_key=key_of(who)))
        self.do(OWNER, DataKeyRotated(dataset_id=D0, epoch=0, keys=D0, readers=[OWNER.address]))
        self.do(OWNER, DatasetEncrypted(dataset_id=D0, series=D0, epoch=0, sealed=D0))

    def do(self, who: Identity, payload: Payload) -> bool:
        """Apply one event; False (and the state unchanged) if it is refused."""
        self.time += 1000
        event = sign_event(who, LEDGER, payload, next_nonce(self.state, who.address), time_ms=self.time)
        before = self.state.digest()
        try:
            apply(self.state, event)
        except RejectedEvent:
            assert self.state.digest() == before
            return False
        return True

    def epoch(self) -> int:
        record = series(self.state, D0)
        assert record is not None
        return record.epoch


ACTIONS = st.lists(
    st.tuples(st.sampled_from(["grant", "revoke", "rotate", "use", "seal", "outsider"]), st.integers(0, 2)),
    min_size=8,
    max_size=20,
)


@settings(max_examples=30, deadline=None)
@given(ACTIONS)
def test_access_rules_hold_over_random_histories(actions: list[tuple[str, int]]) -> None:
    h = History()
    revoked_since: dict[str, int] = {}  # reader -> epoch it was revoked in, until granted again
    for action, index in actions:
        reader = READERS[index]
        if action == "grant":
            ok = h.do(
                OWNER,
                AccessGranted(
                    dataset_id=D0,
                    grantee=reader.address,
                    epoch=h.epoch(),
                    wrapped_key=D0,
                    recipient_key=key_of(reader),
                    expires=h.time + 20_000,
                ),
            )
            if ok:
                revoked_since.pop(reader.address, None)
        elif action == "revoke":
            if h.do(OWNER, AccessRevoked(dataset_id=D0, grantee=reader.address)):
                revoked_since[reader.address] = h.epoch()
        elif action == "rotate":
            readers = live_readers(h.state, D0, OWNER.address, h.time + 1000)
            assert not set(readers) & set(revoked_since)
            h.do(OWNER, DataKeyRotated(dataset_id=D0, epoch=h.epoch() + 1, keys=D0, readers=readers))
        elif action == "use":
            found = grant(h.state, D0, reader.address)
            allowed = found is not None and is_active(found, h.time + 1000)
            assert h.do(reader, AccessUsed(dataset_id=D0, epoch=0)) == allowed
            assert not (allowed and reader.address in revoked_since)
        elif action == "seal":
            h.versions += 1
            version = "sha256:" + f"{h.versions:064x}"
            h.do(OWNER, DatasetRegistered(dataset_id=version, name="v", parents=[D0]))
            if h.do(OWNER, DatasetEncrypted(dataset_id=version, series=D0, epoch=h.epoch(), sealed=version)):
                assert all(g.revoked_epoch != h.epoch() for g in [grant(h.state, D0, r.address) for r in READERS] if g)
        else:  # someone other than the owner tries to grant or rotate
            assert not h.do(
                reader,
                AccessGranted(
                    dataset_id=D0,
                    grantee=READERS[(index + 1) % 3].address,
                    epoch=h.epoch(),
                    wrapped_key=D0,
                    recipient_key="00" * 32,
                ),
            )
            assert not h.do(reader, DataKeyRotated(dataset_id=D0, epoch=h.epoch() + 1, keys=D0, readers=[]))
        for address, epoch in revoked_since.items():
            for later in range(epoch + 1, h.epoch() + 1):
                record = epoch_record(h.state, D0, later)
                assert record is not None and address not in record.readers
    assert not h.do(READERS[2], AccessUsed(dataset_id=D0, epoch=0)) or grant(h.state, D0, READERS[2].address)
