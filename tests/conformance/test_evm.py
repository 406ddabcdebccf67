"""The conformance suite against the EVM backend: the Vyper contracts on py-evm in process, and on anvil.

``precheck=False``: every state rule is decided by the contract (its revert reason mapped to the error class),
not by the Python state machine, so these runs test the contracts. Batches of several events are always checked
as a whole first (see ``EvmLedger.append_batch``). Each class deploys once and starts every test from a node
snapshot of the state it needs (``chain.Chain``), reading the ledger back from the chain into a new ``EvmLedger``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ledgerml import Identity, LedgerBackend, RoleGranted, sign_event
from ledgerml.errors import InvalidTransition, MalformedEvent
from ledgerml.ledger.blocks import sign_block
from ledgerml.ledger.evm.backend import EvmLedger, fund
from ledgerml.ledger.evm.calls import event_call
from ledgerml.types import Role
from ledgerml.vocab.tasks import TaskCreated
from ledgerml.vocab.tokens import TokensMinted, TokensTransferred

from ..conftest import make_identity
from .chain import BASE, Chain, head_storage
from .scenario import Cast, backdated_copy
from .suite import BLOCK_SIZE, M1, LedgerConformance, Reach, _signed_raw

GAS = 8_000_000  # explicit gas: py-evm's estimation would double the time


def _everyone(admin: Identity) -> list[Identity]:
    cast = Cast.make(admin, make_identity("alice", 2000), make_identity("bob", 3000))
    return cast.all()


class EvmConformance(LedgerConformance):
    """The contracts are deployed once per class (fixture ``chain``); each test starts from a snapshot of the
    state it needs (deployed, populated, a task's stage), reverted to, and a new ``EvmLedger`` reading it back."""

    gas_limit: int | None = GAS

    @pytest.fixture(scope="class")
    @classmethod
    def w3(cls) -> Any:
        raise NotImplementedError

    @pytest.fixture(scope="class")
    @classmethod
    def chain(cls, w3: Any) -> Chain:
        admin = make_identity("admin", 1000)  # the ``admin`` fixture's identity (that one is per test)
        return Chain(w3, admin, _everyone(admin), block_size=BLOCK_SIZE, gas_limit=cls.gas_limit)

    @pytest.fixture
    def ledger(self, chain: Chain, admin: Identity) -> LedgerBackend:
        assert chain.admin.address == admin.address
        return chain.reach(BASE)

    @pytest.fixture
    def reached(self, chain: Chain, admin: Identity) -> Reach:
        assert chain.admin.address == admin.address
        return chain.reach  # type: ignore[return-value]

    def raw_snapshot(self, ledger: LedgerBackend) -> Any:
        assert isinstance(ledger, EvmLedger)
        return head_storage(ledger)

    def storage_view(self, ledger: LedgerBackend) -> dict[str, Any] | None:
        assert isinstance(ledger, EvmLedger)
        return head_storage(ledger)[3]

    def forge_block(self, ledger: LedgerBackend, admin: Identity, forgery: str) -> None:
        """A lying node: the contract refuses both forgeries (see test_contract_refuses_forged_seals), so the
        forged ``Sealed`` log is served by wrapping what the node returns."""
        assert isinstance(ledger, EvmLedger)
        last, previous = ledger.block(), ledger.block(ledger.block().height - 1)
        if forgery == "wrong_height":
            changes: dict[str, Any] = {"height": last.height + 5}
        else:
            forged = backdated_copy(last, previous, admin)
            changes = {"time": forged.time, "block_hash": forged.hash, "signature": forged.signature}
        honest = ledger._logs

        def lying(start: int, stop: int) -> list[tuple[str, Any]]:
            served = []
            for name, log in honest(start, stop):
                if name == "Sealed" and int(log["args"]["height"]) == last.height:
                    log = {**log, "args": {**log["args"], **changes}}
                served.append((name, log))
            return served

        ledger._logs = lying  # type: ignore[method-assign]

    # -- issue 21 on the EVM: outsiders, bodies that disagree with their calls, forged seals --

    def _raw(self, ledger: EvmLedger, who: Identity, function: str, args: list[Any]) -> Any:
        data = ledger.contract.encode_abi(function, args)
        return ledger._sender.send(who, {"to": ledger.deployment.ledger, "data": data})

    def test_outsider_junk_transfer_is_refused(self, populated: LedgerBackend, admin: Identity) -> None:
        ledger = populated
        assert isinstance(ledger, EvmLedger)
        eve = make_identity("eve", 9001)
        fund(ledger.w3, [eve.address])
        zero = _signed_raw(eve, ledger.ledger_id, "TokensTransferred", {"amount": 0, "to": eve.address}, 0)
        for body, message in ((b"junk", "not a ledger event envelope"), (zero.body, "positive amount")):
            error = self.assert_rejected_without_change(
                ledger, lambda b=body: self._raw(ledger, eve, "transfer_tokens", [0, eve.address, 0, b]), MalformedEvent
            )
            assert message in str(error)
        fresh = EvmLedger(ledger.w3, ledger.deployment, gas_limit=self.gas_limit)
        assert fresh.size == ledger.size and fresh.skipped == [] and fresh.verify().ok

    def test_task_arguments_that_differ_from_the_body_fail_verify(
        self, populated: LedgerBackend, admin: Identity, alice: Identity
    ) -> None:
        ledger = populated
        assert isinstance(ledger, EvmLedger)
        ledger.submit(admin, RoleGranted(subject=admin.address, role=Role.AGGREGATOR))
        payload = TaskCreated(
            task_id="t", name="t", model_spec=M1, initial_model=M1, rounds=2, rule="fedavg", min_stake=10
        )
        event = sign_event(admin, ledger.ledger_id, payload, ledger.next_nonce(admin.address))
        function, args = event_call(event, ledger.state())
        config = list(args[4])
        config[3] = 0  # min_stake: the body says 10
        args[4] = tuple(config)
        self._raw(ledger, admin, function, args)  # bypasses event_call: the body replays, the storage differs
        report = EvmLedger(ledger.w3, ledger.deployment, gas_limit=self.gas_limit).verify()
        assert not report.ok and report.location == "contract storage"
        assert "tasks.t.min_stake" in str(report.problem)
        # every other command keeps working
        assert ledger.state().get("tasks", "t").min_stake == 10
        ledger.submit(admin, RoleGranted(subject=alice.address, role=Role.AUDITOR))
        ledger.seal()
        proof = ledger.inclusion_proof(ledger.size - 1)
        assert proof.leaf_index == ledger.size - 1

    def test_transfer_arguments_that_differ_from_the_body_fail_verify(
        self, populated: LedgerBackend, admin: Identity, alice: Identity, bob: Identity
    ) -> None:
        ledger = populated
        assert isinstance(ledger, EvmLedger)
        ledger.submit(admin, TokensMinted(amount=100, to=alice.address))
        event = sign_event(
            alice, ledger.ledger_id, TokensTransferred(to=bob.address, amount=5), ledger.next_nonce(alice.address)
        )
        self._raw(ledger, alice, "transfer_tokens", [event.nonce, bob.address, 50, event.body])
        report = ledger.verify()
        assert not report.ok and report.location == "token"
        assert f"{bob.address} holds 50 tokens; the ledger's events and direct ERC-20 transfers give 5" in str(
            report.problem
        )
        assert ledger.state().get("balances", alice.address) == 95

    def test_contract_refuses_forged_seals(self, populated: LedgerBackend, admin: Identity, alice: Identity) -> None:
        ledger = populated
        assert isinstance(ledger, EvmLedger)
        last = ledger.block()
        ledger.submit(admin, RoleGranted(subject=alice.address, role=Role.AUDITOR))
        good = dict(
            height=last.height + 1,
            log_size=ledger.size,
            log_root=ledger._tree.root(ledger.size),
            time=last.time,
            prev_hash=last.hash,
        )
        for change, message in (({"time": last.time - 1}, "dated before"), ({"height": last.height + 2}, "next block")):
            fields = {**good, **change}
            header = sign_block(admin, ledger=ledger.ledger_id, **fields)  # type: ignore[arg-type]
            args = [header.height, header.log_size, header.log_root, header.time, header.prev_hash, header.hash]
            error = self.assert_rejected_without_change(
                ledger, lambda a=args, h=header: self._raw(ledger, admin, "seal", [*a, h.signature]), InvalidTransition
            )
            assert message in str(error)
        assert ledger.seal() is not None and ledger.verify().ok


class TestPyEvmConformance(EvmConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def w3(cls) -> Any:
        from web3 import EthereumTesterProvider, Web3

        return Web3(EthereumTesterProvider())


@pytest.fixture(scope="module")
def anvil_url() -> Iterator[str]:
    from ..conftest import start_anvil

    with start_anvil() as url:
        yield url


class TestAnvilConformance(EvmConformance):
    gas_limit = None  # anvil: estimate gas like any real deployment

    @pytest.fixture(scope="class")
    @classmethod
    def w3(cls, anvil_url: str) -> Any:
        from ledgerml.ledger.evm.backend import connect

        return connect(anvil_url)
