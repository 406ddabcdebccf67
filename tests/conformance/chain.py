"""One node's chain for an EVM conformance class: the contracts deployed once, every state a test starts from
built once and snapshotted (``evm_snapshot``), and each test started from a revert (``evm_revert``) with a fresh
``EvmLedger`` that reads the whole ledger back from the chain, instead of a deployment and a scenario per test.

The contracts' storage a test compares (``chain_view``) is read from the node once per head block and state:
storage at a block cannot change, and every transaction mines a new block on these nodes (automine)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from ledgerml import Identity
from ledgerml.ledger.evm.backend import Deployment, EvmLedger, deploy, fund

BASE = "deployed"
"""The key of the state right after the deployment (and the funding of every signer)."""


class Chain:
    """The contracts on ``w3``'s chain, deployed by ``admin`` (also the validator), and the snapshots taken of it."""

    def __init__(
        self, w3: Any, admin: Identity, signers: Sequence[Identity], *, block_size: int, gas_limit: int | None
    ) -> None:
        self.w3, self.admin, self.signers = w3, admin, list(signers)
        self.block_size, self.gas_limit = block_size, gas_limit
        fund(w3, [s.address for s in self.signers])
        self.deployment: Deployment = deploy(w3, admin, name="conformance", gas_limit=gas_limit)
        self._snapshots: dict[Hashable, Any] = {BASE: self._rpc("evm_snapshot")}  # in the order they were taken
        self.builds: list[Hashable] = []
        """The keys of the states built, in order (a state is built again only after a revert dropped it)."""

    def _rpc(self, method: str, *params: Any) -> Any:
        """``method`` on the node; a refusal (an error, or ``false`` from ``evm_revert``) fails the test."""
        response = self.w3.provider.make_request(method, list(params))
        if "error" in response or response.get("result") is False:
            raise AssertionError(f"{method}{list(params)}: the node answered {response}")
        return response["result"]

    def _revert_to(self, key: Hashable) -> None:
        """The chain back at ``key``'s snapshot. anvil deletes that snapshot and every later one when it reverts
        (py-evm keeps them): all of them are forgotten here, and ``key``'s state is snapshotted again."""
        keys = list(self._snapshots)
        self._rpc("evm_revert", self._snapshots[key])
        for later in keys[keys.index(key) :]:
            del self._snapshots[later]
        self._snapshots[key] = self._rpc("evm_snapshot")

    def open(self) -> EvmLedger:
        """A new ``EvmLedger`` on the deployment (as ``make_ledger`` made them: the contracts decide, no precheck)."""
        return EvmLedger(
            self.w3,
            self.deployment,
            validator=self.admin,
            signers=self.signers,
            precheck=False,
            block_size=self.block_size,
            gas_limit=self.gas_limit,
        )

    def reach(self, key: Hashable, build: Callable[[EvmLedger], None] | None = None) -> EvmLedger:
        """A new ledger on the chain as ``build`` leaves the deployed contracts: built from the deployment the
        first time ``key`` is asked for (then snapshotted), reverted to that snapshot afterwards."""
        if key not in self._snapshots:
            assert build is not None, f"no build for the state {key!r}"
            self._revert_to(BASE)
            build(self.open())
            self._snapshots[key] = self._rpc("evm_snapshot")
            self.builds.append(key)
        else:
            self._revert_to(key)
        return self.open()


_VIEWS: dict[tuple[Any, ...], dict[str, Any]] = {}


def head_storage(ledger: EvmLedger) -> tuple[int, bytes, bytes, dict[str, Any]]:
    """The head block's number, hash and state root, and the contracts' storage there for every key the ledger's
    state knows (``chain_view``). Read from the node once per (deployment, head block, state digest)."""
    head = ledger.w3.eth.get_block("latest")
    state = ledger.state()
    key = (ledger.deployment.chain_id, ledger.deployment.ledger, ledger.ledger_id, bytes(head["hash"]), state.digest())
    if key not in _VIEWS:
        view = ledger.chain_view(state)
        assert ledger.w3.eth.get_block("latest")["hash"] == head["hash"], "a block was mined while storage was read"
        _VIEWS[key] = view
    return int(head["number"]), bytes(head["hash"]), bytes(head["stateRoot"]), copy.deepcopy(_VIEWS[key])
