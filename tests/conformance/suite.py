"""The conformance suite: every scenario and rejection, written once, run against every ledger backend.

A backend's test module subclasses :class:`LedgerConformance` and implements ``make_ledger`` (and
``raw_snapshot`` to prove rejected input leaves storage byte-for-byte unchanged). A backend that can copy a
state cheaply (the EVM ledgers: node snapshots) overrides the ``ledger`` and ``reached`` fixtures instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ledgerml import (
    ConsistencyProof,
    DatasetRegistered,
    Event,
    Identity,
    InclusionProof,
    Ledger,
    LedgerBackend,
    ModelRegistered,
    RoleGranted,
    RoleRevoked,
    fold,
    sign_event,
    sqlite_url,
    verify_consistency_proof,
    verify_inclusion_proof,
)
from ledgerml.errors import (
    DuplicateRegistration,
    InvalidProof,
    InvalidSignature,
    InvalidTransition,
    MalformedEvent,
    NonceGap,
    NotFound,
    RejectedEvent,
    ReplayedNonce,
    SignerMismatch,
    Unauthorized,
    UnknownEventKind,
    UnknownReference,
    WrongLedger,
)
from ledgerml.events import MAX_EVENT_BYTES, now_ms
from ledgerml.ledger.evm.view import project
from ledgerml.state import MAX_BACKDATE_MS, MAX_CLOCK_SKEW_MS, MAX_RECORDS, latest_time
from ledgerml.types import Role
from ledgerml.vocab.core import roles_of
from ledgerml.vocab.tokens import supply

from .scenario import (
    REJECTIONS,
    Cast,
    commit_round_one,
    finalize_round_one,
    finish,
    full_task,
    setup_task,
)
from .steps import steps_for


def same_steps_as(reference: LedgerBackend, ledger: LedgerBackend, cast: Cast) -> None:
    """``full_task`` on ``reference`` with the later vocabularies' steps ``ledger``'s backend runs (a backend
    runs only the steps whose kinds it can record: the EVM ledger skips off-chain kinds)."""
    for stage in (setup_task, commit_round_one, finalize_round_one, finish):
        stage(reference, cast)
    for step in steps_for(on_chain_only=type(ledger).__module__.startswith("ledgerml.ledger.evm")):
        step(reference, cast)


D1, D2, M1, M2 = ("sha256:" + c * 64 for c in "1234")
BLOCK_SIZE = 4


def _signed_raw(who: Identity, ledger_id: str, kind: str, payload: dict[str, Any], nonce: int) -> Event:
    """An event signed over any payload (no schema check), timed now."""
    time_ms = now_ms()
    unsigned = Event(ledger=ledger_id, kind=kind, actor=who.address, nonce=nonce, time=time_ms, payload=payload)
    return Event(
        ledger=ledger_id,
        kind=kind,
        actor=who.address,
        nonce=nonce,
        time=time_ms,
        payload=payload,
        signature=who.sign_digest(unsigned.digest),
    )


def populate(ledger: LedgerBackend, admin: Identity, alice: Identity, bob: Identity) -> None:
    """Two roles, a dataset and a model on it: the ``populated`` ledger (5 events)."""
    ledger.submit_batch(
        admin,
        [
            RoleGranted(subject=alice.address, role=Role.DATA_OWNER),
            RoleGranted(subject=bob.address, role=Role.TRAINER),
        ],
    )
    ledger.submit(alice, DatasetRegistered(dataset_id=D1, name="d1", license="CC-BY-4.0"))
    ledger.submit(bob, ModelRegistered(model_id=M1, name="m1", datasets=[D1]))


Reach = Callable[[Hashable, Callable[[LedgerBackend], None]], LedgerBackend]


class LedgerConformance:
    """Subclass per backend; the ledger has block size 4 and admin/validator ``admin``."""

    def make_ledger(self, tmp_path: Path, admin: Identity) -> LedgerBackend:
        raise NotImplementedError

    def raw_snapshot(self, ledger: LedgerBackend) -> Any:
        """Everything the backend stores, for byte-for-byte comparisons (None if not inspectable)."""
        return None

    def storage_view(self, ledger: LedgerBackend) -> dict[str, Any] | None:
        """What the backend's own storage says of the state (``view.project`` shape), if it keeps one."""
        return None

    def forge_block(self, ledger: LedgerBackend, admin: Identity, forgery: str) -> None:
        """Make the latest block backwards-dated (``"backwards_time"``, re-signed by the validator ``admin``) or
        give it a height 5 too high (``"wrong_height"``) in what the backend stores or serves."""
        raise NotImplementedError

    @pytest.fixture
    def ledger(self, tmp_path: Path, admin: Identity) -> Iterator[LedgerBackend]:
        backend = self.make_ledger(tmp_path, admin)
        yield backend
        backend.close()

    @pytest.fixture
    def reached(self, ledger: LedgerBackend) -> Reach:
        """``reach(key, build)``: a fresh ledger as ``build`` leaves it; ``key`` names that state, so a backend
        may build it once and start every test that asks for it from a copy. Once per test."""

        def reach(key: Hashable, build: Callable[[LedgerBackend], None]) -> LedgerBackend:
            build(ledger)
            return ledger

        return reach

    @pytest.fixture
    def populated(self, reached: Reach, admin: Identity, alice: Identity, bob: Identity) -> LedgerBackend:
        return reached("populated", lambda ledger: populate(ledger, admin, alice, bob))

    # -- helpers --

    def assert_rejected_without_change(
        self, ledger: LedgerBackend, action: Callable[[], Any], error: type[Exception]
    ) -> Exception:
        state_before = ledger.state().snapshot()
        size_before = ledger.size
        raw_before = self.raw_snapshot(ledger)
        with pytest.raises(error) as info:
            action()
        assert ledger.size == size_before
        assert ledger.state().snapshot() == state_before
        assert self.raw_snapshot(ledger) == raw_before
        return info.value

    # -- scenarios --

    def test_genesis(self, ledger: LedgerBackend, admin: Identity) -> None:
        assert ledger.size == 1
        genesis = ledger.block(0)
        assert genesis.height == 0 and genesis.log_size == 1 and genesis.prev_hash == bytes(32)
        assert roles_of(ledger.state(), admin.address) == {Role.ADMIN, Role.VALIDATOR}
        assert ledger.get_event(0).event.kind == "LedgerCreated"

    def test_append_read_back(self, populated: LedgerBackend, alice: Identity, bob: Identity) -> None:
        ledger = populated
        assert ledger.size == 5
        stored = ledger.get_event(3)
        assert stored.event.kind == "DatasetRegistered" and stored.event.actor == alice.address
        assert ledger.get_event(stored.event.id).seq == 3
        assert [s.seq for s in ledger.events(1, 4)] == [1, 2, 3]
        assert ledger.next_nonce(alice.address) == 1 and ledger.next_nonce(bob.address) == 1
        assert ledger.state().get("models", M1).datasets == (D1,)
        with pytest.raises(NotFound):
            ledger.get_event(99)
        with pytest.raises(NotFound):
            ledger.get_event("sha256:" + "0" * 64)

    def test_state_is_the_fold_of_the_log(self, populated: LedgerBackend) -> None:
        events = [s.event for s in populated.events()]
        assert fold(events).snapshot() == populated.state().snapshot()

    def test_presigned_append(self, ledger: LedgerBackend, admin: Identity, alice: Identity) -> None:
        event = sign_event(
            admin,
            ledger.ledger_id,
            RoleGranted(subject=alice.address, role=Role.AUDITOR),
            ledger.next_nonce(admin.address),
        )
        receipt = ledger.append(event)
        assert receipt.event_id == event.id and ledger.get_event(receipt.seq).event == event

    def test_batch_is_all_or_nothing(self, ledger: LedgerBackend, admin: Identity, alice: Identity) -> None:
        n = ledger.next_nonce(admin.address)
        good = [
            sign_event(admin, ledger.ledger_id, RoleGranted(subject=alice.address, role=r), n + i)
            for i, r in enumerate((Role.TRAINER, Role.AUDITOR))
        ]
        bad = sign_event(admin, ledger.ledger_id, RoleGranted(subject=alice.address, role=Role.TRAINER), n + 2)
        error = self.assert_rejected_without_change(
            ledger, lambda: ledger.append_batch([*good, bad]), DuplicateRegistration
        )
        assert isinstance(error, RejectedEvent) and error.index == 2 and "batch event 2" in str(error)
        assert ledger.append_batch(good)[-1].seq == 2

    @pytest.mark.parametrize(
        ("case", "error"),
        [
            ("bad_signature", InvalidSignature),
            ("wrong_signer", SignerMismatch),
            ("replayed_nonce", ReplayedNonce),
            ("skipped_nonce", NonceGap),
            ("missing_role", Unauthorized),
            ("unknown_kind", UnknownEventKind),
            ("malformed_payload", MalformedEvent),
            ("duplicate_dataset", DuplicateRegistration),
            ("duplicate_role", DuplicateRegistration),
            ("unknown_dataset", UnknownReference),
            ("unknown_parent_model", UnknownReference),
            ("revoke_last_admin", InvalidTransition),
            ("wrong_ledger", WrongLedger),
        ],
    )
    def test_every_rejection(
        self,
        populated: LedgerBackend,
        admin: Identity,
        alice: Identity,
        bob: Identity,
        case: str,
        error: type[RejectedEvent],
    ) -> None:
        ledger = populated
        lid = ledger.ledger_id

        def nonce(who: Identity) -> int:
            return ledger.next_nonce(who.address)

        good = sign_event(alice, lid, DatasetRegistered(dataset_id=D2, name="d2"), nonce(alice))
        events: dict[str, Callable[[], Event]] = {
            "bad_signature": lambda: Event(
                ledger=lid,
                kind=good.kind,
                actor=good.actor,
                nonce=good.nonce,
                time=good.time,
                payload=good.payload,
                signature=good.signature[:32] + bytes(32) + good.signature[64:],
            ),
            "wrong_signer": lambda: Event(
                ledger=lid,
                kind=good.kind,
                actor=bob.address,
                nonce=nonce(bob),
                time=good.time,
                payload=good.payload,
                signature=good.signature,
            ),
            "replayed_nonce": lambda: ledger.get_event(3).event,
            "skipped_nonce": lambda: sign_event(
                alice, lid, DatasetRegistered(dataset_id=D2, name="d2"), nonce(alice) + 1
            ),
            "missing_role": lambda: sign_event(bob, lid, DatasetRegistered(dataset_id=D2, name="d2"), nonce(bob)),
            "unknown_kind": lambda: _signed_raw(alice, lid, "Teleported", {}, nonce(alice)),
            "malformed_payload": lambda: _signed_raw(
                alice, lid, "DatasetRegistered", {"dataset_id": "x"}, nonce(alice)
            ),
            "duplicate_dataset": lambda: sign_event(
                alice, lid, DatasetRegistered(dataset_id=D1, name="d1"), nonce(alice)
            ),
            "duplicate_role": lambda: sign_event(
                admin, lid, RoleGranted(subject=alice.address, role=Role.DATA_OWNER), nonce(admin)
            ),
            "unknown_dataset": lambda: sign_event(
                bob, lid, ModelRegistered(model_id=M2, name="m", datasets=[D2]), nonce(bob)
            ),
            "unknown_parent_model": lambda: sign_event(
                bob, lid, ModelRegistered(model_id=M2, name="m", parents=[M2]), nonce(bob)
            ),
            "revoke_last_admin": lambda: sign_event(
                admin, lid, RoleRevoked(subject=admin.address, role=Role.ADMIN), nonce(admin)
            ),
            "wrong_ledger": lambda: sign_event(
                alice, "f" * 32, DatasetRegistered(dataset_id=D2, name="d2"), nonce(alice)
            ),
        }
        event = events[case]()
        self.assert_rejected_without_change(ledger, lambda: ledger.append(event), error)
        # the same event inside a batch names its position and still changes nothing
        filler = sign_event(admin, lid, RoleGranted(subject=bob.address, role=Role.AUDITOR), nonce(admin))
        if event.actor != admin.address:
            batch_error = self.assert_rejected_without_change(
                ledger, lambda: ledger.append_batch([filler, event]), error
            )
            assert isinstance(batch_error, RejectedEvent) and batch_error.index == 1

    def test_blocks_cut_by_size(self, ledger: LedgerBackend, admin: Identity, alice: Identity) -> None:
        roles = [Role.TRAINER, Role.AUDITOR, Role.DATA_OWNER, Role.AGGREGATOR]
        ledger.submit_batch(admin, [RoleGranted(subject=alice.address, role=r) for r in roles])
        sizes = [b.log_size for b in ledger.blocks()]
        assert sizes == [1, 1 + BLOCK_SIZE]
        assert ledger.seal() is None  # nothing pending
        ledger.submit(admin, RoleGranted(subject=alice.address, role=Role.VALIDATOR))
        sealed = ledger.seal()
        assert sealed is not None and sealed.log_size == 6 and sealed.prev_hash == ledger.block(1).hash

    def test_inclusion_proofs_for_every_event_and_block(self, populated: LedgerBackend, admin: Identity) -> None:
        ledger = populated
        ledger.seal()
        for block in ledger.blocks():
            for seq in range(block.log_size):
                proof = ledger.inclusion_proof(seq, block.height)
                carried = InclusionProof.from_dict(json.loads(json.dumps(proof.to_dict())))
                event = verify_inclusion_proof(carried, {admin.address})
                assert event == ledger.get_event(seq).event
        with pytest.raises(InvalidProof, match="not sealed"):
            ledger.inclusion_proof(4, 0)

    def test_forged_inclusion_proofs_fail(self, populated: LedgerBackend, admin: Identity, bob: Identity) -> None:
        ledger = populated
        ledger.seal()
        data = ledger.inclusion_proof(3).to_dict()
        with pytest.raises(InvalidProof, match="trusted"):
            verify_inclusion_proof(InclusionProof.from_dict(data), {bob.address})
        other = ledger.get_event(4).event.to_dict()
        with pytest.raises(InvalidProof):
            verify_inclusion_proof(InclusionProof.from_dict({**data, "event": other}))
        with pytest.raises(InvalidProof):
            verify_inclusion_proof(InclusionProof.from_dict({**data, "leaf_index": 2}))
        block = dict(data["block"], log_root="00" * 32)
        block.pop("hash")
        with pytest.raises(InvalidProof):
            verify_inclusion_proof(InclusionProof.from_dict({**data, "block": block}))
        with pytest.raises(InvalidProof):
            InclusionProof.from_dict({"format": "something else"})

    def test_consistency_proofs_between_all_blocks(
        self, ledger: LedgerBackend, admin: Identity, alice: Identity
    ) -> None:
        for role in (Role.TRAINER, Role.AUDITOR, Role.DATA_OWNER):
            ledger.submit(admin, RoleGranted(subject=alice.address, role=role))
            ledger.seal()
        heights = [b.height for b in ledger.blocks()]
        assert len(heights) == 4
        for old in heights:
            for new in heights[old:]:
                proof = ConsistencyProof.from_dict(ledger.consistency_proof(old, new).to_dict())
                verify_consistency_proof(proof, {admin.address})
        with pytest.raises(InvalidProof):
            ledger.consistency_proof(3, 1)
        proof = ledger.consistency_proof(1, 3)
        forged = ConsistencyProof(proof.old, proof.new, [bytes(32)] * len(proof.path))
        with pytest.raises(InvalidProof):
            verify_consistency_proof(forged)

    # -- hostile input (issue 21): every backend refuses it identically and changes nothing --

    @pytest.mark.parametrize("amount", [True, 2.0, "5"])
    def test_exact_json_types(self, populated: LedgerBackend, admin: Identity, alice: Identity, amount: Any) -> None:
        payload = {"amount": amount, "task_id": None, "to": alice.address}
        event = _signed_raw(admin, populated.ledger_id, "TokensMinted", payload, populated.next_nonce(admin.address))
        self.assert_rejected_without_change(populated, lambda: populated.append(event), MalformedEvent)

    def test_body_larger_than_the_limit(self, populated: LedgerBackend, alice: Identity) -> None:
        payload = DatasetRegistered(dataset_id=D2, name="d2", metadata={"pad": "x" * MAX_EVENT_BYTES}).model_dump(
            mode="json"
        )
        event = _signed_raw(
            alice, populated.ledger_id, "DatasetRegistered", payload, populated.next_nonce(alice.address)
        )
        assert len(event.body) > MAX_EVENT_BYTES
        error = self.assert_rejected_without_change(populated, lambda: populated.append(event), MalformedEvent)
        assert f"{MAX_EVENT_BYTES:,}" in str(error) or str(MAX_EVENT_BYTES) in str(error)

    @pytest.mark.parametrize("when", ["backdated", "future"])
    def test_event_time_window(self, populated: LedgerBackend, alice: Identity, when: str) -> None:
        latest = latest_time(populated.state())
        assert latest is not None
        time_ms = latest - MAX_BACKDATE_MS - 1 if when == "backdated" else now_ms() + MAX_CLOCK_SKEW_MS + 60_000
        payload = DatasetRegistered(dataset_id=D2, name="d2")
        event = sign_event(alice, populated.ledger_id, payload, populated.next_nonce(alice.address), time_ms=time_ms)
        self.assert_rejected_without_change(populated, lambda: populated.append(event), InvalidTransition)
        inside = sign_event(
            alice, populated.ledger_id, payload, populated.next_nonce(alice.address), time_ms=latest - MAX_BACKDATE_MS
        )
        assert populated.append(inside).seq == populated.size - 1

    def test_records_bound_and_type(self, populated: LedgerBackend, alice: Identity) -> None:
        lid = populated.ledger_id
        for records in (-1, 1.5, "10", MAX_RECORDS + 1):
            payload = DatasetRegistered(dataset_id=D2, name="d2").model_dump(mode="json")
            payload["metadata"] = {"records": records}
            event = _signed_raw(alice, lid, "DatasetRegistered", payload, populated.next_nonce(alice.address))
            self.assert_rejected_without_change(populated, lambda e=event: populated.append(e), MalformedEvent)
        populated.submit(alice, DatasetRegistered(dataset_id=D2, name="d2", metadata={"records": MAX_RECORDS}))
        stored = self.storage_view(populated)
        assert project(populated.state())["datasets"][D2]["records"] == MAX_RECORDS
        if stored is not None:
            assert stored == project(populated.state())

    @pytest.mark.parametrize("forgery", ["backwards_time", "wrong_height"])
    def test_forged_block_fails_verify(self, populated: LedgerBackend, admin: Identity, forgery: str) -> None:
        ledger = populated
        ledger.seal()
        assert ledger.verify().ok
        height = ledger.block().height
        self.forge_block(ledger, admin, forgery)
        report = ledger.verify()
        forged_height = height + 5 if forgery == "wrong_height" else height
        assert not report.ok and report.location == f"block {forged_height}"
        assert ("time goes backwards" if forgery == "backwards_time" else "heights skip") in str(report.problem)

    def test_verify_clean_ledger(self, populated: LedgerBackend) -> None:
        populated.seal()
        report = populated.verify()
        assert report.ok and report.problem is None
        assert report.events_checked == populated.size and report.unsealed_events == 0

    # -- federated tasks, rewards, slashing, tokens --

    def test_task_lifecycle_reaches_the_reference_state(
        self, tmp_path: Path, ledger: LedgerBackend, admin: Identity, alice: Identity, bob: Identity
    ) -> None:
        cast = Cast.make(admin, alice, bob)
        full_task(ledger, cast)
        state = ledger.state()
        assert supply(state).balanced and supply(state).minted == 1305
        reference = Ledger.create(sqlite_url(tmp_path / "reference.db"), admin=admin)
        same_steps_as(reference, ledger, cast)
        expected = project(reference.state())
        reference.close()
        assert project(state) == expected
        assert expected["balances"][alice.address] == 100 - 10 + 375 + 10 - 50
        assert expected["tasks"]["hospital-ct"]["pool"] == 1000 - 500 + 5
        stored = self.storage_view(ledger)
        if stored is not None:
            assert stored == expected
        assert fold(s.event for s in ledger.events()).snapshot() == state.snapshot()
        assert ledger.verify().ok

    # grouped by stage: a backend that snapshots each stage (the EVM ledgers) builds it once, not once per group
    @pytest.mark.parametrize("case", sorted(REJECTIONS, key=lambda case: (REJECTIONS[case][0].__name__, case)))
    def test_task_rejections(self, reached: Reach, admin: Identity, alice: Identity, bob: Identity, case: str) -> None:
        stage, actor, make_payload, error = REJECTIONS[case]
        cast = Cast.make(admin, alice, bob)
        ledger = reached(stage, lambda fresh: stage(fresh, cast))
        who: Identity = getattr(cast, actor)
        event = sign_event(who, ledger.ledger_id, make_payload(cast), ledger.next_nonce(who.address))
        self.assert_rejected_without_change(ledger, lambda: ledger.append(event), error)
        stored = self.storage_view(ledger)
        if stored is not None:
            assert stored == project(ledger.state())
