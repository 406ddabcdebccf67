"""The state machine on its own (no storage): every rule, every rejection, atomicity."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerml.errors import (
    DuplicateRegistration,
    InvalidSignature,
    InvalidTransition,
    MalformedEvent,
    NonceGap,
    RejectedEvent,
    ReplayedNonce,
    SignerMismatch,
    Unauthorized,
    UnknownEventKind,
    UnknownReference,
    WrongLedger,
)
from ledgerml.events import Event, Payload, sign_event
from ledgerml.identity import Identity
from ledgerml.state import State, apply, fold, next_nonce
from ledgerml.types import Role
from ledgerml.vocab.core import DatasetRegistered, LedgerCreated, ModelRegistered, RoleGranted, RoleRevoked, roles_of

from .conftest import make_identity

LEDGER = "ab" * 16
D1, D2, M1 = ("sha256:" + c * 64 for c in "123")


class Chain:
    """Signs events with the right nonces for a pure state machine test."""

    def __init__(self, admin: Identity) -> None:
        self.state = State()
        self.nonces: dict[str, int] = {}
        self.admin = admin
        self.do(admin, LedgerCreated(name="t", admin=admin.address, validator=admin.address))

    def sign(self, who: Identity, payload: Payload, nonce: int | None = None) -> Event:
        n = self.nonces.get(who.address, 0) if nonce is None else nonce
        return sign_event(who, LEDGER, payload, n, time_ms=1)

    def do(self, who: Identity, payload: Payload) -> Event:
        event = self.sign(who, payload)
        apply(self.state, event)
        self.nonces[who.address] = self.nonces.get(who.address, 0) + 1
        return event

    def rejected(self, event: Event, error: type[RejectedEvent]) -> RejectedEvent:
        before = self.state.snapshot()
        with pytest.raises(error) as info:
            apply(self.state, event)
        assert self.state.snapshot() == before, "a rejected event changed the state"
        return info.value


@pytest.fixture
def chain(admin: Identity) -> Chain:
    return Chain(admin)


def test_genesis_makes_creator_admin_and_validator(chain: Chain, admin: Identity) -> None:
    assert roles_of(chain.state, admin.address) == {Role.ADMIN, Role.VALIDATOR}
    assert next_nonce(chain.state, admin.address) == 1


def test_first_event_must_be_genesis(alice: Identity) -> None:
    state = State()
    with pytest.raises(InvalidTransition, match="first event"):
        apply(state, sign_event(alice, LEDGER, RoleGranted(subject=alice.address, role=Role.ADMIN), 0))
    assert state.snapshot() == {}


def test_genesis_must_be_signed_by_its_admin(alice: Identity, bob: Identity) -> None:
    state = State()
    with pytest.raises(Unauthorized):
        apply(state, sign_event(alice, LEDGER, LedgerCreated(name="x", admin=bob.address, validator=bob.address), 0))


def test_genesis_twice_is_duplicate(chain: Chain, admin: Identity) -> None:
    again = chain.sign(admin, LedgerCreated(name="t", admin=admin.address, validator=admin.address))
    chain.rejected(again, DuplicateRegistration)


def test_role_lifecycle(chain: Chain, admin: Identity, alice: Identity) -> None:
    chain.do(admin, RoleGranted(subject=alice.address, role=Role.DATA_OWNER))
    assert Role.DATA_OWNER in roles_of(chain.state, alice.address)
    chain.rejected(chain.sign(admin, RoleGranted(subject=alice.address, role=Role.DATA_OWNER)), DuplicateRegistration)
    chain.do(admin, RoleRevoked(subject=alice.address, role=Role.DATA_OWNER))
    assert roles_of(chain.state, alice.address) == frozenset()
    chain.rejected(chain.sign(admin, RoleRevoked(subject=alice.address, role=Role.DATA_OWNER)), InvalidTransition)


def test_missing_role_is_unauthorized(chain: Chain, alice: Identity, bob: Identity) -> None:
    chain.rejected(chain.sign(alice, RoleGranted(subject=bob.address, role=Role.ADMIN)), Unauthorized)
    chain.rejected(chain.sign(alice, DatasetRegistered(dataset_id=D1, name="d")), Unauthorized)
    chain.rejected(chain.sign(alice, ModelRegistered(model_id=M1, name="m")), Unauthorized)


def test_last_admin_and_validator_cannot_be_revoked(chain: Chain, admin: Identity, alice: Identity) -> None:
    chain.rejected(chain.sign(admin, RoleRevoked(subject=admin.address, role=Role.ADMIN)), InvalidTransition)
    chain.rejected(chain.sign(admin, RoleRevoked(subject=admin.address, role=Role.VALIDATOR)), InvalidTransition)
    chain.do(admin, RoleGranted(subject=alice.address, role=Role.ADMIN))
    chain.do(admin, RoleRevoked(subject=admin.address, role=Role.ADMIN))
    assert roles_of(chain.state, admin.address) == {Role.VALIDATOR}


def test_nonces(chain: Chain, admin: Identity, alice: Identity) -> None:
    granted = chain.do(admin, RoleGranted(subject=alice.address, role=Role.AUDITOR))
    chain.rejected(granted, ReplayedNonce)
    chain.rejected(chain.sign(admin, RoleGranted(subject=alice.address, role=Role.TRAINER), nonce=5), NonceGap)


def test_signatures(chain: Chain, admin: Identity, alice: Identity) -> None:
    good = chain.sign(admin, RoleGranted(subject=alice.address, role=Role.AUDITOR))
    forged = Event(
        ledger=good.ledger,
        kind=good.kind,
        actor=alice.address,
        nonce=0,
        time=good.time,
        payload=good.payload,
        signature=good.signature,
    )
    chain.rejected(forged, SignerMismatch)
    broken = Event(
        ledger=good.ledger,
        kind=good.kind,
        actor=good.actor,
        nonce=good.nonce,
        time=good.time,
        payload=good.payload,
        signature=good.signature[:64] + b"\x05",
    )
    chain.rejected(broken, InvalidSignature)
    edited = Event(
        ledger=good.ledger,
        kind=good.kind,
        actor=good.actor,
        nonce=good.nonce,
        time=good.time + 1,
        payload=good.payload,
        signature=good.signature,
    )
    chain.rejected(edited, SignerMismatch)  # the signature no longer matches: it recovers someone else


def test_wrong_ledger(chain: Chain, admin: Identity, alice: Identity) -> None:
    other = sign_event(admin, "cd" * 16, RoleGranted(subject=alice.address, role=Role.AUDITOR), 1)
    chain.rejected(other, WrongLedger)


def test_unknown_kind_and_malformed_payload(chain: Chain, admin: Identity) -> None:
    unsigned = Event(ledger=LEDGER, kind="Teleported", actor=admin.address, nonce=1, time=1, payload={})
    unknown = Event(
        ledger=LEDGER,
        kind="Teleported",
        actor=admin.address,
        nonce=1,
        time=1,
        payload={},
        signature=admin.sign_digest(unsigned.digest),
    )
    chain.rejected(unknown, UnknownEventKind)
    bad_payload = {"subject": "not-an-address", "role": "admin"}
    unsigned = Event(ledger=LEDGER, kind="RoleGranted", actor=admin.address, nonce=1, time=1, payload=bad_payload)
    malformed = Event(
        ledger=LEDGER,
        kind="RoleGranted",
        actor=admin.address,
        nonce=1,
        time=1,
        payload=bad_payload,
        signature=admin.sign_digest(unsigned.digest),
    )
    chain.rejected(malformed, MalformedEvent)


def test_registrations_and_lineage(chain: Chain, admin: Identity, alice: Identity, bob: Identity) -> None:
    chain.do(admin, RoleGranted(subject=alice.address, role=Role.DATA_OWNER))
    chain.do(admin, RoleGranted(subject=bob.address, role=Role.TRAINER))
    chain.do(alice, DatasetRegistered(dataset_id=D1, name="d1"))
    chain.rejected(chain.sign(alice, DatasetRegistered(dataset_id=D1, name="again")), DuplicateRegistration)
    chain.rejected(chain.sign(alice, DatasetRegistered(dataset_id=D2, name="d2", parents=[M1])), UnknownReference)
    chain.rejected(chain.sign(bob, ModelRegistered(model_id=M1, name="m", datasets=[D2])), UnknownReference)
    chain.rejected(chain.sign(bob, ModelRegistered(model_id=M1, name="m", parents=[D2])), UnknownReference)
    chain.do(bob, ModelRegistered(model_id=M1, name="m", datasets=[D1]))
    record = chain.state.get("models", M1)
    assert record.owner == bob.address and record.datasets == (D1,)
    chain.rejected(chain.sign(bob, ModelRegistered(model_id=M1, name="m")), DuplicateRegistration)


def test_fold_equals_incremental(chain: Chain, admin: Identity, alice: Identity) -> None:
    events = [chain.do(admin, RoleGranted(subject=alice.address, role=r)) for r in (Role.TRAINER, Role.AUDITOR)]
    genesis = sign_event(
        admin, LEDGER, LedgerCreated(name="t", admin=admin.address, validator=admin.address), 0, time_ms=1
    )
    assert fold([genesis, *events]).snapshot() == chain.state.snapshot()


def test_atomic_nesting_undoes_only_inner() -> None:
    state = State()
    with state.atomic():
        state.put("t", "a", 1)
        with pytest.raises(RuntimeError), state.atomic():
            state.put("t", "b", 2)
            state.delete("t", "a")
            raise RuntimeError
        assert state.rows("t") == {"a": 1}
    assert state.rows("t") == {"a": 1}


PEOPLE = [make_identity(f"p{i}", 50 + i) for i in range(4)]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 4), st.integers(0, 6), st.sampled_from(list(Role)), st.integers(0, 3), st.integers(-1, 1)
        ),
        max_size=25,
    )
)
def test_random_histories_reject_without_change(steps: list[tuple[int, int, Role, int, int]]) -> None:
    """Any mix of valid and invalid events: each is applied fully or rejected with no change at all."""
    admin = make_identity("admin", 1000)
    chain = Chain(admin)
    actors = [admin, *PEOPLE]
    for who, what, role, target, nonce_shift in steps:
        actor = actors[who]
        subject = actors[target].address
        payload: Payload = [
            RoleGranted(subject=subject, role=role),
            RoleRevoked(subject=subject, role=role),
            DatasetRegistered(dataset_id=f"sha256:{target:064x}", name="d"),
            DatasetRegistered(dataset_id=f"sha256:{target + 10:064x}", name="d", parents=[f"sha256:{target:064x}"]),
            ModelRegistered(model_id=f"sha256:{target + 20:064x}", name="m", datasets=[f"sha256:{target:064x}"]),
            ModelRegistered(model_id=f"sha256:{target + 30:064x}", name="m", parents=[f"sha256:{target + 20:064x}"]),
            LedgerCreated(name="x", admin=actor.address, validator=actor.address),
        ][what]
        nonce = max(0, chain.nonces.get(actor.address, 0) + nonce_shift)
        event = chain.sign(actor, payload, nonce)
        before = chain.state.snapshot()
        try:
            apply(chain.state, event)
        except RejectedEvent:
            assert chain.state.snapshot() == before
        else:
            assert nonce == chain.nonces.get(actor.address, 0)
            chain.nonces[actor.address] = nonce + 1


def test_a_trial_undoes_its_changes_and_lets_errors_through() -> None:
    state = State()
    state.put("t", "kept", 1)
    before = state.snapshot()
    with state.trial():
        state.put("t", "kept", 2)
        state.put("t", "new", 3)
        state.delete("t", "kept")
    assert state.snapshot() == before
    with pytest.raises(KeyError), state.trial():
        state.put("t", "new", 4)
        raise KeyError("the block's own error")
    assert state.snapshot() == before
    with state.atomic():  # a trial nested in a transaction undoes only its own changes
        state.put("t", "outer", 5)
        with state.trial():
            state.put("t", "inner", 6)
    assert state.get("t", "outer") == 5 and state.get("t", "inner") is None
