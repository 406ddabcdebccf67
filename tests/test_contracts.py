"""The Vyper contracts: artifacts match their sources, and the reward token works on py-evm (in process)."""

from __future__ import annotations

import pytest

from ledgerml.ledger.evm.build import load_artifact, stale

GAS = {"gas": 3_000_000}  # explicit gas: estimation would double the time on py-evm


def test_artifacts_are_up_to_date() -> None:
    assert stale() == [], "run: python -m ledgerml.ledger.evm.build"


@pytest.fixture(scope="module")
def chain():  # type: ignore[no-untyped-def]
    from web3 import EthereumTesterProvider, Web3

    w3 = Web3(EthereumTesterProvider())
    artifact = load_artifact("RewardToken")
    owner, alice, bob = w3.eth.accounts[:3]
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor().transact({"from": owner, **GAS}))
    token = w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])
    return w3, token, owner, alice, bob


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
    w3, token, _owner, alice, bob = chain

    def status(call) -> int:  # type: ignore[no-untyped-def]
        # explicit gas skips the pre-flight call, so a revert shows as a failed receipt, not an exception
        return int(w3.eth.wait_for_transaction_receipt(call.transact({"from": bob, **GAS}))["status"])

    assert status(token.functions.mint(bob, 5)) == 0  # bob holds no minter role
    assert status(token.functions.transfer(alice, 10**6)) == 0  # more than bob's balance
    assert token.functions.totalSupply().call() == 100 and token.functions.balanceOf(bob).call() == 30
    assert status(token.functions.transfer(alice, 10)) == 1
