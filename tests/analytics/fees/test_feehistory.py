"""``eth_feeHistory`` ingestion: against a real anvil under generated load with varied priority fees (base fees equal
to the headers', the next block's base fee equal to the EIP-1559 rule, chunked calls equal to one call, the reward
percentiles among the tips paid), and malformed answers as one ``ConfigError``."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from ledgerml._jsonrpc import JsonRpc
from ledgerml.analytics.fees.blocks import fetch_blocks
from ledgerml.analytics.fees.eip1559 import BaseFeeForecaster, next_base_fee
from ledgerml.analytics.fees.feehistory import fee_history, with_priority_fee
from ledgerml.errors import ConfigError
from tests._cli import run_cli

from ...conftest import start_anvil

TIPS_GWEI = (1, 2, 3, 4)


def _mine_with_tips(url: str, blocks: int, seed: int) -> None:
    """0..7 transfers per block on a 200,000-gas limit, each with a priority fee of 1..4 gwei (automine off)."""
    rpc, rng = JsonRpc(url), random.Random(seed)
    sender, receiver = rpc.call("eth_accounts")[:2]
    rpc.call("evm_setAutomine", [False])
    for _ in range(blocks):
        for _ in range(rng.randrange(8)):
            tip = hex(rng.choice(TIPS_GWEI) * 10**9)
            transfer = {"from": sender, "to": receiver, "value": "0x1", "gas": "0x5208"}
            rpc.call("eth_sendTransaction", [{**transfer, "maxPriorityFeePerGas": tip, "maxFeePerGas": hex(10**11)}])
        rpc.call("evm_mine")


def test_fee_history_from_anvil_matches_headers_rule_and_tips() -> None:
    with start_anvil("--gas-limit", "200000", "--accounts", "2", "--silent") as url:
        _mine_with_tips(url, 30, seed=3)
        blocks = fetch_blocks(url, 1)
        chunked = fee_history(JsonRpc(url), 1, 30, per_call=7)
        result = run_cli("gas", "blocks", "--rpc", url, "--from", "1", "--k", "5", "--json")
    history = blocks.fees
    assert history is not None and len(history) == 30
    assert np.array_equal(history.base_fee, blocks.base_fee)  # fetch_blocks also checks this itself
    assert np.allclose(history.gas_used_ratio, blocks.gas_used / blocks.gas_limit)
    rule = next_base_fee(int(blocks.base_fee[-1]), int(blocks.gas_used[-1]), int(blocks.gas_limit[-1]))
    assert history.next_base_fee == rule == BaseFeeForecaster().fit(blocks).next_fee_
    assert np.array_equal(chunked.rewards, history.rewards) and chunked.next_base_fee == history.next_base_fee
    busy = blocks.gas_used > 0
    paid = {t * 10**9 for t in TIPS_GWEI}
    assert set(history.rewards[busy].ravel().tolist()) <= paid and busy.sum() > 10
    assert np.all(history.rewards[~busy] == 0)
    assert np.all(np.diff(history.rewards, axis=1) >= 0)  # p10 <= p50 <= p90 in every block
    assert result.code == 0, result.err
    row = result.json()["forecasts"][0]  # type: ignore[index]
    assert min(TIPS_GWEI) <= row["priority_fee_gwei"] <= max(TIPS_GWEI)
    assert row["max_fee_with_tip_gwei"] == pytest.approx(row["max_fee_gwei"] + row["priority_fee_gwei"])


class _FakeRpc:
    def __init__(self, answer: Any) -> None:
        self.answer = answer

    def call(self, method: str, params: list[Any]) -> Any:
        return self.answer


GOOD = {
    "oldestBlock": "0x1",
    "baseFeePerGas": ["0x1", "0x2", "0x3"],
    "gasUsedRatio": [0.5, 0.1],
    "reward": [["0x0"]] * 2,
}


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({**GOOD, "oldestBlock": "0x5"}, "did not return blocks 1..2"),
        ({**GOOD, "gasUsedRatio": [0.5]}, "returned 1 of the 2 blocks"),
        ({**GOOD, "baseFeePerGas": ["0x1", "zz", "0x3"]}, "not a hex quantity"),
        (None, "did not return blocks"),
    ],
)
def test_malformed_fee_history_is_one_config_error(answer: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        fee_history(_FakeRpc(answer), 1, 2, [50.0])  # type: ignore[arg-type]


def test_fee_history_arguments_are_checked_and_no_history_leaves_the_outlook() -> None:
    for first, last, percentiles, per_call in ((3, 2, [50.0], 0), (1, 2, [90.0, 10.0], 0), (1, 2, [50.0], 2000)):
        with pytest.raises(ConfigError):
            fee_history(_FakeRpc(GOOD), first, last, percentiles, per_call=per_call)  # type: ignore[arg-type]
    history = fee_history(_FakeRpc(GOOD), 1, 2, [50.0])  # type: ignore[arg-type]
    assert history.base_fee.tolist() == [1.0, 2.0] and history.next_base_fee == 3
    outlook = {"k": 5, "max_fee_gwei": 1.5}
    assert with_priority_fee(outlook, None) == outlook
    assert with_priority_fee(outlook, history)["max_fee_with_tip_gwei"] == 1.5
