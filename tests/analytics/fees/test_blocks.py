"""Block-level base fees: the EIP-1559 rule (checked against anvil under generated load), the forecaster's
conventions, calibration on generated blocks, and bad block files."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledgerml._jsonrpc import JsonRpc
from ledgerml.analytics.fees.blocks import fetch_blocks, read_blocks_csv
from ledgerml.analytics.fees.eip1559 import BaseFeeForecaster, BlockSeries, next_base_fee, reliability
from ledgerml.errors import ConfigError
from tests._cli import one_error_line, run_cli

from ...conftest import start_anvil


def test_the_rule_at_full_empty_and_target_blocks() -> None:
    assert next_base_fee(10**9, 30_000_000, 30_000_000) == 1_125_000_000
    assert next_base_fee(10**9, 0, 30_000_000) == 875_000_000
    assert next_base_fee(10**9, 15_000_000, 30_000_000) == 10**9
    assert next_base_fee(7, 15_000_001, 30_000_000) == 8  # the increase is at least 1 wei


@given(st.integers(1, 10**12), st.integers(0, 30_000_000), st.integers(0, 30_000_000))
def test_the_rule_is_monotone_in_gas_used(base: int, a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert next_base_fee(base, low, 30_000_000) <= next_base_fee(base, high, 30_000_000)


def _generated_blocks(n: int = 300, seed: int = 0) -> BlockSeries:
    rng = np.random.default_rng(seed)
    limit = np.full(n, 30_000_000, dtype=np.int64)
    used = (limit * np.clip(rng.beta(2, 2, n), 0, 1)).astype(np.int64)
    fees = [10**9]
    for u in used[:-1]:
        fees.append(next_base_fee(fees[-1], int(u), 30_000_000))
    return BlockSeries(np.arange(n), used, limit, np.array(fees, dtype=np.float64))


def test_estimator_conventions_and_recommendation() -> None:
    blocks = _generated_blocks()
    model = BaseFeeForecaster(paths=500)
    with pytest.raises(ConfigError, match="fit the forecaster"):
        model.predict(5)
    assert model.fit(blocks) is model
    paths = model.predict(5)
    exact = next_base_fee(int(blocks.base_fee[-1]), int(blocks.gas_used[-1]), 30_000_000)
    assert paths.shape == (500, 5) and np.all(paths[:, 0] == exact)  # the next block is exact
    low, high = model.recommend(5, 0.5), model.recommend(5, 0.9)
    assert low <= high and model.inclusion_probability(high, 5) >= 0.9
    assert model.inclusion_probability(exact, 5) == 1.0


def test_recommendations_are_calibrated_on_generated_blocks() -> None:
    curve = reliability(_generated_blocks(), 5, every=3, forecaster=BaseFeeForecaster(paths=500))
    assert sum(b.count for b in curve) > 500
    for point in curve:
        assert abs(point.observed - point.promised) < 0.12, point


def _mine(url: str, blocks: int, seed: int) -> None:
    """Generated load: 0..9 plain transfers per block on a 200,000-gas block limit (automine off)."""
    rpc, rng = JsonRpc(url), random.Random(seed)
    sender, receiver = rpc.call("eth_accounts")[:2]
    rpc.call("evm_setAutomine", [False])
    for _ in range(blocks):
        for _ in range(rng.randrange(10)):
            rpc.call("eth_sendTransaction", [{"from": sender, "to": receiver, "value": "0x1", "gas": "0x5208"}])
        rpc.call("evm_mine")


def test_base_fees_from_anvil_follow_the_rule_and_feed_the_forecast() -> None:
    with start_anvil("--gas-limit", "200000", "--accounts", "2", "--silent") as url:
        _mine(url, 40, seed=1)
        blocks = fetch_blocks(url, 1)
        assert len(blocks) == 40 and not blocks.reconstructed
        assert len(set(blocks.gas_used.tolist())) > 3  # the load varied
        for parent in range(len(blocks) - 1):
            child = next_base_fee(int(blocks.base_fee[parent]), int(blocks.gas_used[parent]), 200_000)
            assert child == blocks.base_fee[parent + 1]
        result = run_cli("gas", "blocks", "--rpc", url, "--from", "1", "--k", "5", "--json")
    assert result.code == 0, result.err
    document = result.json()
    assert document["last_block"] == 40 and document["reconstructed_base_fees"] is False  # type: ignore[index]
    assert 0.8 <= document["forecasts"][0]["probability"] <= 1.0  # type: ignore[index]


def test_a_file_without_base_fees_is_rebuilt_by_the_rule(tmp_path: Path) -> None:
    path = tmp_path / "blocks.csv"
    path.write_text("number,timestamp,gas_used,gas_limit\n5,0,30000000,30000000\n6,12,0,30000000\n7,24,1,30000000\n")
    blocks = read_blocks_csv(path)
    assert blocks.reconstructed and blocks.base_fee.tolist() == [1e9, 1.125e9, 984_375_000.0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("number,gas_used\n1,2\n", "expected columns"),
        ("number,gas_used,gas_limit\n1,5,10\n3,5,10\n", "consecutive"),
        ("number,gas_used,gas_limit\n1,50,10\n2,5,10\n", "gas_used <= gas_limit"),
        ("number,gas_used,gas_limit\n1,x,10\n2,5,10\n", "is not an integer"),
    ],
)
def test_bad_block_files_are_one_error_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "blocks.csv"
    path.write_text(text)
    result = run_cli("gas", "blocks", "--file", str(path), "--json")
    assert result.code == 2 and one_error_line(result.err) and message in result.err, result.err


def test_blocks_needs_one_source() -> None:
    result = run_cli("gas", "blocks", "--json")
    assert result.code == 2 and one_error_line(result.err) and "exactly one of" in result.err
