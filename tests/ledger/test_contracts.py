"""The Vyper contracts: artifacts match their sources, and the reward token works on py-evm (in process)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerml import DatasetRegistered, Identity, RoleGranted, sign_event
from ledgerml.ledger.evm.build import load_artifact, stale
from ledgerml.types import Role
from ledgerml.vocab.rewards import RewardPaid, StakeSlashed, TaskSettled
from ledgerml.vocab.tasks import ParticipantJoined, RoundFinalized, TaskCreated, UpdateCommitted
from ledgerml.vocab.tokens import TokensMinted, TokensTransferred

from ..conftest import make_identity

D = "sha256:" + "d" * 64

GAS = {"gas": 3_000_000}  # explicit gas: estimation would double the time on py-evm


def test_artifacts_are_up_to_date() -> None:
    assert stale() == [], "run: python -m ledgerml.ledger.evm.build"


@pytest.fixture(scope="module")
def deployed():  # type: ignore[no-untyped-def]
    """One py-evm chain with the reward token deployed (once per module: deploying is the slow part)."""
    from web3 import EthereumTesterProvider, Web3

    w3 = Web3(EthereumTesterProvider())
    artifact = load_artifact("RewardToken")
    owner, alice, bob = w3.eth.accounts[:3]
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor().transact({"from": owner, **GAS}))
    token = w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])
    return w3, token, owner, alice, bob


@pytest.fixture
def chain(deployed):  # type: ignore[no-untyped-def]
    """The deployed chain as it was just after the deploy: each test's transactions are reverted after it."""
    w3 = deployed[0]
    snapshot = w3.testing.snapshot()
    yield deployed
    w3.testing.revert(snapshot)


def test_reward_token_mints_transfers_and_keeps_supply(chain) -> None:  # type: ignore[no-untyped-def]
    w3, token, owner, alice, bob = chain
    assert token.functions.symbol().call() == "LMLR" and token.functions.decimals().call() == 0
    w3.eth.wait_for_transaction_receipt(token.functions.mint(alice, 100).transact({"from": owner, **GAS}))
    receipt = w3.eth.wait_for_transaction_receipt(token.functions.transfer(bob, 30).transact({"from": alice, **GAS}))
    transfers = token.events.Transfer().process_receipt(receipt)
    assert [(e.args.sender, e.args.receiver, e.args.value) for e in transfers] == [(alice, bob, 30)]
    assert token.functions.balanceOf(alice).call() == 70 and token.functions.balanceOf(bob).call() == 30
    assert token.functions.totalSupply().call() == 100  # supply = mints - burns


def test_only_minters_mint_and_balances_bound_transfers(chain) -> None:  # type: ignore[no-untyped-def]
    w3, token, owner, alice, bob = chain
    assert token.functions.totalSupply().call() == 0  # the previous test's mints were reverted
    w3.eth.wait_for_transaction_receipt(token.functions.mint(bob, 30).transact({"from": owner, **GAS}))

    def status(call) -> int:  # type: ignore[no-untyped-def]
        # explicit gas skips the pre-flight call, so a revert shows as a failed receipt, not an exception
        return int(w3.eth.wait_for_transaction_receipt(call.transact({"from": bob, **GAS}))["status"])

    assert status(token.functions.mint(bob, 5)) == 0  # bob holds no minter role
    assert status(token.functions.transfer(alice, 10**6)) == 0  # more than bob's balance
    assert token.functions.totalSupply().call() == 30 and token.functions.balanceOf(bob).call() == 30
    assert status(token.functions.transfer(alice, 10)) == 1
    assert token.functions.balanceOf(alice).call() == 10 and token.functions.balanceOf(bob).call() == 20


# -- the Ledger contract: access control, checks-effects-interactions, token supply -----------------------

CONTRACT = Path(__file__).resolve().parents[2] / "src/ledgerml/ledger/evm/contracts/Ledger.vy"
OPEN_TO_HOLDERS = {"transfer_tokens"}  # any token holder may transfer; the balance is the only check
COMPACT = {"commit_update"}  # typed fields and a signature, no body: readers rebuild the body (ledger.evm.compact)


@pytest.fixture
def task_ledger(admin: Identity, alice: Identity, bob: Identity):  # type: ignore[no-untyped-def]
    """A py-evm chain with the conformance scenario's task set up (contracts decide: precheck off)."""
    from web3 import EthereumTesterProvider, Web3

    from ledgerml.ledger.evm.backend import EvmLedger, deploy, fund

    from ..conformance.scenario import Cast, setup_task

    w3 = Web3(EthereumTesterProvider())
    cast = Cast.make(admin, alice, bob)
    eve = make_identity("eve", 9001)
    fund(w3, [p.address for p in [*cast.all(), eve]])
    deployment = deploy(w3, admin, gas_limit=8_000_000)
    ledger = EvmLedger(w3, deployment, validator=admin, signers=[*cast.all(), eve], precheck=False, gas_limit=8_000_000)
    setup_task(ledger, cast)
    return ledger, cast, eve


def _payloads(cast, eve):  # type: ignore[no-untyped-def]
    """One payload per state-changing function of the Ledger contract (the token transfer aside)."""
    from ledgerml.vocab.core import ModelRegistered, RoleRevoked

    from ..conformance.scenario import A1, D_ALICE, M0, TASK, U, digest

    return {
        "grant_role": RoleGranted(subject=eve.address, role=Role.TRAINER),
        "revoke_role": RoleRevoked(subject=cast.alice.address, role=Role.DATA_OWNER),
        "register_dataset": DatasetRegistered(dataset_id=digest("eve"), name="eve"),
        "register_model": ModelRegistered(model_id=digest("eve-m"), name="m", datasets=[D_ALICE]),
        "create_task": TaskCreated(task_id="eve", name="e", model_spec=M0, initial_model=M0, rounds=1, rule="x"),
        "join": ParticipantJoined(task_id=TASK),
        "commit_update": UpdateCommitted(
            task_id=TASK, round=1, update_digest=U["alice"], base_digest=M0, num_examples=1
        ),
        "finalize_round": RoundFinalized(task_id=TASK, round=1, status="ok", aggregate_digest=A1),
        "pay_rewards": RewardPaid(task_id=TASK, round=1),
        "slash": StakeSlashed(
            task_id=TASK, round=1, participant=cast.carol.address, amount=5, reason="norm bound", update_digest=A1
        ),
        "settle": TaskSettled(task_id=TASK),
        "mint": TokensMinted(amount=1, to=eve.address),
    }


def test_every_state_changing_function_rejects_callers_without_the_role(task_ledger) -> None:  # type: ignore[no-untyped-def]
    from ledgerml.errors import Unauthorized
    from ledgerml.ledger.evm.calls import event_call

    ledger, cast, eve = task_ledger
    payloads = _payloads(cast, eve)
    abi = ledger.contract.abi
    changing = {f["name"] for f in abi if f["type"] == "function" and f["stateMutability"] == "nonpayable"}
    assert changing == set(payloads) | {"seal", "record"} | OPEN_TO_HOLDERS  # a new function must be added here
    before = ledger.chain_view()
    for name, payload in payloads.items():
        event = sign_event(eve, ledger.ledger_id, payload, ledger.next_nonce(eve.address))
        function, _args = event_call(event, ledger.state())
        assert function == name
        with pytest.raises(Unauthorized, match="ledger contract"):
            ledger.append(event)
    ledger._validator = eve  # eve is no validator: the contract refuses her block
    with pytest.raises(Unauthorized):
        ledger.seal()
    assert ledger.chain_view() == before
    # the token: only its owner sets the ledger, only the ledger moves tokens for events, only minters mint
    w3, token = ledger.w3, ledger.token
    for call in (
        token.functions.set_ledger(eve.address),
        token.functions.ledger_transfer(cast.alice.address, eve.address, 1),
        token.functions.mint(eve.address, 1),
    ):
        data = call._encode_transaction_data()
        with pytest.raises(Exception, match="revert"):
            w3.eth.call({"from": eve.address, "to": token.address, "data": data})


def _functions(source: str) -> dict[str, list[str]]:
    bodies: dict[str, list[str]] = {}
    name = None
    for line in source.splitlines():
        match = re.match(r"^def (\w+)\(", line)
        if match:
            name = match.group(1)
            bodies[name] = []
        elif name and line and not line.startswith((" ", "\t", ")")):
            name = None
        elif name:
            bodies[name].append(line)
    return bodies


def test_no_state_change_after_an_external_call() -> None:
    """Checks-effects-interactions: in every function, storage writes all come before the first extcall."""
    bodies = _functions(CONTRACT.read_text())
    assert {"join", "pay_rewards", "settle", "mint", "transfer_tokens"} <= set(bodies)
    write = re.compile(r"^\s*self\.\w+(\[[^\]]*\])*\s*(=|\+=|-=)|self\._(grant|event|take_nonce)\(")
    with_calls = 0
    for name, lines in bodies.items():
        first_call = next((i for i, line in enumerate(lines) if "extcall" in line), None)
        if first_call is None:
            continue
        with_calls += 1
        late = [line.strip() for line in lines[first_call:] if write.search(line)]
        assert not late, f"{name} changes storage after an external call: {late}"
    assert with_calls == 5
    # and the check itself catches a late write
    assert write.search("        self.pools[task] -= paid")


@settings(max_examples=15, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["mint", "pool", "transfer", "burn", "join"]), st.integers(1, 60), st.integers(0, 2)),
        min_size=1,
        max_size=10,
    )
)
def test_token_supply_is_mints_minus_burns(steps: list[tuple[str, int, int]]) -> None:
    from web3 import EthereumTesterProvider, Web3

    from ledgerml.errors import RejectedEvent
    from ledgerml.ledger.evm.backend import EvmLedger, deploy, fund

    w3 = Web3(EthereumTesterProvider())
    admin = make_identity("admin", 1000)
    people = [make_identity(f"p{i}", 8000 + i) for i in range(3)]
    fund(w3, [p.address for p in [admin, *people]])
    ledger = EvmLedger(w3, deploy(w3, admin, gas_limit=8_000_000), validator=admin, signers=people, gas_limit=8_000_000)
    ledger.submit_batch(
        admin,
        [RoleGranted(subject=admin.address, role=Role.AGGREGATOR)]
        + [RoleGranted(subject=p.address, role=Role.TRAINER) for p in people],
    )
    ledger.submit(
        admin, TaskCreated(task_id="t", name="t", model_spec=D, initial_model=D, rounds=1, rule="fedavg", min_stake=1)
    )
    minted = burned = 0
    for action, amount, who in steps:
        person = people[who]
        try:
            if action == "mint":
                ledger.submit(admin, TokensMinted(amount=amount, to=person.address))
                minted += amount
            elif action == "pool":
                ledger.submit(admin, TokensMinted(amount=amount, task_id="t"))
                minted += amount
            elif action == "transfer":
                ledger.submit(person, TokensTransferred(to=people[(who + 1) % 3].address, amount=amount))
            elif action == "join":
                ledger.submit(person, ParticipantJoined(task_id="t", stake=amount))
            else:
                data = ledger.token.functions.burn(amount)._encode_transaction_data()
                ledger._sender.send(person, {"to": ledger.token.address, "data": data})  # a holder burns directly
                burned += amount
        except RejectedEvent:
            pass  # refused (too little balance, joined already): nothing moved
        assert ledger.token.functions.totalSupply().call() == minted - burned
        assert ledger.contract.functions.minted().call() == minted
    if any(a == "burn" for a, _, _ in steps):
        assert ledger.verify().ok  # burns move tokens outside the ledger: noted, not a failure
    escrow = sum(ledger.state().rows("pools").values()) + sum(ledger.state().rows("stakes").values())
    assert ledger.token.functions.balanceOf(ledger.deployment.ledger).call() == escrow


def test_every_state_changing_function_binds_the_body_to_its_sender(task_ledger) -> None:  # type: ignore[no-untyped-def]
    """A body signed by another actor (or for another function's kind) is refused before any rule runs."""
    from ledgerml.errors import MalformedEvent
    from ledgerml.ledger.evm.calls import event_call

    ledger, cast, eve = task_ledger
    payloads = {**_payloads(cast, eve), "transfer_tokens": TokensTransferred(to=eve.address, amount=1)}
    before = ledger.chain_view()
    block = ledger.w3.eth.block_number
    for name, payload in payloads.items():
        if name in COMPACT:
            continue  # no body to bind: readers rebuild it with the sender as actor (see the compact tests)
        nonce = ledger.next_nonce(eve.address)
        theirs = sign_event(cast.admin, ledger.ledger_id, payload, nonce)  # admin's body, eve's transaction
        function, args = event_call(theirs, ledger.state())
        assert function == name
        data = ledger.contract.encode_abi(function, args)
        with pytest.raises(MalformedEvent, match="actor is not the transaction's sender"):
            ledger._sender.send(eve, {"to": ledger.deployment.ledger, "data": data})
        other = "grant_role" if name != "grant_role" else "revoke_role"
        mine = sign_event(eve, ledger.ledger_id, payloads[other], nonce)  # eve's body of another kind
        args[-1] = mine.body
        data = ledger.contract.encode_abi(function, args)
        with pytest.raises(MalformedEvent, match="kind, ledger or nonce"):
            ledger._sender.send(eve, {"to": ledger.deployment.ledger, "data": data})
    assert ledger.chain_view() == before and ledger.w3.eth.block_number == block


def test_zero_transfers_and_oversized_record_counts_are_refused(task_ledger) -> None:  # type: ignore[no-untyped-def]
    from ledgerml.errors import MalformedEvent
    from ledgerml.events import Event

    from ..conformance.scenario import digest

    ledger, cast, _eve = task_ledger
    alice = cast.alice
    lid, nonce = ledger.ledger_id, ledger.next_nonce(alice.address)

    def raw(kind: str, payload: dict, function: str, args: list) -> None:  # type: ignore[type-arg]
        unsigned = Event(ledger=lid, kind=kind, actor=alice.address, nonce=nonce, time=1, payload=payload)
        body = Event(**{**unsigned_fields(unsigned), "signature": alice.sign_digest(unsigned.digest)}).body
        data = ledger.contract.encode_abi(function, [nonce, *args, body])
        ledger._sender.send(alice, {"to": ledger.deployment.ledger, "data": data})

    def unsigned_fields(event: Event) -> dict:  # type: ignore[type-arg]
        return {k: getattr(event, k) for k in ("ledger", "kind", "actor", "nonce", "time", "payload")}

    before = ledger.chain_view()
    with pytest.raises(MalformedEvent, match="positive amount"):
        raw("TokensTransferred", {"amount": 0, "to": cast.bob.address}, "transfer_tokens", [cast.bob.address, 0])
    too_many = 2**53 + 1
    payload = DatasetRegistered(dataset_id=digest("big"), name="big").model_dump(mode="json")
    payload["metadata"] = {"records": too_many}
    with pytest.raises(MalformedEvent, match="records is too large"):
        raw("DatasetRegistered", payload, "register_dataset", [bytes.fromhex(digest("big")[7:]), [], too_many])
    assert ledger.chain_view() == before


# -- the compact commitment: no body on chain, rebuilt byte for byte by readers ---------------------------


def _commit(ledger, sender, signer, **fields):  # type: ignore[no-untyped-def]
    """Send ``sender``'s UpdateCommitted (round 1) with ``signer``'s signature over it; returns the event."""
    from ledgerml.events import Event

    from ..conformance.scenario import M0, TASK, U

    payload = UpdateCommitted(task_id=TASK, round=1, update_digest=U["alice"], base_digest=M0, num_examples=1)
    nonce = ledger.next_nonce(sender.address)
    event = sign_event(sender, ledger.ledger_id, payload, nonce)
    forged = Event(
        **{k: getattr(event, k) for k in ("ledger", "kind", "actor", "nonce", "time", "payload")},
        signature=signer.sign_digest(event.digest),
    )
    from ledgerml.ledger.evm.calls import event_call

    function, args = event_call(forged, ledger.state())
    data = ledger.contract.encode_abi(function, args)
    ledger._sender.send(sender, {"to": ledger.deployment.ledger, "data": data})
    return forged


def test_a_compact_commitment_rebuilds_to_the_signed_body(task_ledger) -> None:  # type: ignore[no-untyped-def]
    from ledgerml.ledger.evm.backend import EvmLedger

    ledger, cast, _eve = task_ledger
    event = _commit(ledger, cast.alice, cast.alice)
    fresh = EvmLedger(ledger.w3, ledger.deployment)  # a reader that has only the chain
    stored = fresh.get_event(fresh.size - 1)
    assert stored.event.body == event.body and stored.event.id == event.id
    report = fresh.verify()
    assert report.ok and report.skipped == [], report


def test_a_compact_commitment_signed_by_someone_else_is_skipped_and_fails_verify(task_ledger) -> None:  # type: ignore[no-untyped-def]
    from ledgerml.ledger.evm.backend import EvmLedger

    ledger, cast, _eve = task_ledger
    _commit(ledger, cast.alice, cast.admin)  # the contract accepts it: alice is a member, the round is open
    fresh = EvmLedger(ledger.w3, ledger.deployment)
    (skipped,) = fresh.skipped
    assert skipped.actor == cast.alice.address and skipped.reason.startswith("SignerMismatch")
    report = fresh.verify()  # the contract stored the commitment, the replay refused it: both are reported
    assert not report.ok and report.skipped == [skipped]


def test_pack_commit_refuses_what_its_fields_cannot_hold() -> None:
    from ledgerml.errors import MalformedEvent
    from ledgerml.vocab.evm import pack_commit, unpack_commit

    signature = bytes(range(64)) + b"\x1c"
    packed, r, s = pack_commit(7, 2**64 - 1, 2**53, 253_402_300_799_999, signature)
    assert unpack_commit(packed, r, s) == (7, 2**64 - 1, 2**53, 253_402_300_799_999, signature)
    for bad in [(2**64, 1, 1, 1), (1, 2**64, 1, 1), (1, 1, -1, 1), (1, 1, 1, 2**56)]:
        with pytest.raises(MalformedEvent):
            pack_commit(*bad, signature)
    with pytest.raises(MalformedEvent):
        pack_commit(1, 1, 1, 1, signature[:64])
