"""The conformance suite against the EVM backend: the Vyper contracts on py-evm in process, and on anvil.

``precheck=False``: every state rule is decided by the contract (its revert reason mapped to the error class),
not by the Python state machine, so these runs test the contracts. Batches of several events are always checked
as a whole first (see ``EvmLedger.append_batch``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledgerml import Identity, LedgerBackend
from ledgerml.ledger.evm.backend import EvmLedger, deploy, fund

from ..conftest import make_identity
from .scenario import Cast
from .suite import BLOCK_SIZE, LedgerConformance

GAS = 8_000_000  # explicit gas: py-evm's estimation would double the time


def _everyone(admin: Identity) -> list[Identity]:
    cast = Cast.make(admin, make_identity("alice", 2000), make_identity("bob", 3000))
    return cast.all()


class EvmConformance(LedgerConformance):
    gas_limit: int | None = GAS

    def web3(self) -> Any:
        raise NotImplementedError

    def make_ledger(self, tmp_path: Path, admin: Identity) -> LedgerBackend:
        w3 = self.web3()
        people = _everyone(admin)
        fund(w3, [p.address for p in people])
        deployment = deploy(w3, admin, name="conformance", gas_limit=self.gas_limit)
        return EvmLedger(
            w3,
            deployment,
            validator=admin,
            signers=people,
            precheck=False,
            block_size=BLOCK_SIZE,
            gas_limit=self.gas_limit,
        )

    def raw_snapshot(self, ledger: LedgerBackend) -> Any:
        assert isinstance(ledger, EvmLedger)
        return ledger.w3.eth.block_number, ledger.chain_view()

    def storage_view(self, ledger: LedgerBackend) -> dict[str, Any] | None:
        assert isinstance(ledger, EvmLedger)
        return ledger.chain_view()


class TestPyEvmConformance(EvmConformance):
    def web3(self) -> Any:
        from web3 import EthereumTesterProvider, Web3

        return Web3(EthereumTesterProvider())


@pytest.fixture(scope="module")
def anvil_url() -> Iterator[str]:
    from ..conftest import start_anvil

    with start_anvil() as url:
        yield url


class TestAnvilConformance(EvmConformance):
    gas_limit = None  # anvil: estimate gas like any real deployment

    @pytest.fixture(autouse=True)
    def _node(self, anvil_url: str) -> None:
        self.url = anvil_url

    def web3(self) -> Any:
        from ledgerml.ledger.evm.backend import connect

        return connect(self.url)
