"""End to end: a small trace with an injected flooding window is replayed through a real anvil node (blocks mined
one by one, spam sent from one dev account to fresh addresses) and the monitor, reading the node over JSON-RPC,
finds the window and names it."""

from __future__ import annotations

import numpy as np
import pytest

from ledgerml._jsonrpc import JsonRpc
from ledgerml.alerts.chain import monitor_chain

from ...conftest import start_anvil

BLOCKS, FLOOD = 36, range(28, 32)


def _replay(rpc: JsonRpc) -> None:
    """Mine ``BLOCKS`` blocks: 4-8 transfers between dev accounts each; in ``FLOOD`` one account also sends 30."""
    accounts = rpc.call("eth_accounts")
    rng = np.random.default_rng(7)
    rpc.call("evm_setAutomine", [False])
    for number in range(1, BLOCKS + 1):
        for _ in range(int(rng.integers(4, 9))):
            sender, recipient = rng.choice(8, 2, replace=False)
            tx = {"from": accounts[sender], "to": accounts[recipient], "value": hex(10**15)}
            rpc.call("eth_sendTransaction", [tx])
        if number in FLOOD:
            for k in range(30):
                fresh = "0x" + f"{number:04x}{k:04x}".rjust(40, "0")
                rpc.call("eth_sendTransaction", [{"from": accounts[9], "to": fresh, "value": "0x1"}])
        rpc.call("evm_mine", [])


@pytest.mark.slow
def test_a_flood_replayed_through_anvil_is_detected() -> None:
    with start_anvil("--silent") as url:
        rpc = JsonRpc(url)
        _replay(rpc)
        document = monitor_chain(None, rpc=url, from_block=1)
    assert document["blocks"] == BLOCKS and document["first_block"] == 1
    assert document["notes"] == []  # anvil has eth_getBlockReceipts
    caught = [a for a in document["alerts"] if a["first_block"] <= FLOOD[-1] and a["last_block"] >= FLOOD[0]]
    assert caught, document["alerts"]
    assert caught[0]["attack"] == "flooding" and caught[0]["first_block"] == FLOOD[0]
    outside = [a for a in document["alerts"] if a not in caught]
    assert outside == []
