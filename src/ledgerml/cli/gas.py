"""``ledgerml gas backtest|forecast|blocks``: daily gas-price forecasts, the rolling backtest, and block-level
base-fee forecasts with a fee recommendation (offline commands: ``--home`` is accepted and unused)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._common import HomeOption, JsonOption, emit_json, table

app = typer.Typer(help="Forecast gas prices and recommend fees.", no_args_is_help=True)

DataOption = Annotated[
    Path, typer.Option("--data", help="Folder with the Etherscan daily exports (export-AvgGasPrice.csv in wei, ...).")
]


def _print_forecasts(title: str, rows: list[dict[str, object]]) -> None:
    columns = ["date", "forecast_gwei", "lo80_gwei", "hi80_gwei"]
    table(
        title,
        ["date", "forecast (gwei)", "80% low", "80% high"],
        [[r["date"], *(f"{float(str(r[c])):.3f}" for c in columns[1:])] for r in rows],
    )


@app.command("backtest")
def backtest_command(
    data: DataOption,
    start: Annotated[str, typer.Option("--start", help="First forecast day, YYYY-MM-DD.")],
    horizon: Annotated[int, typer.Option("--horizon", help="Days ahead (1 = next day).")] = 1,
    as_json: JsonOption = False,
    home: HomeOption = None,
) -> None:
    """One forecast for every day from --start to the last day of the data, each from the days before it."""
    from ..analytics.fees.backtest import backtest
    from ..analytics.fees.daily import load_daily

    series = load_daily(data)
    result = backtest(series, start, horizon=horizon).to_dict()
    if as_json:
        emit_json(result)
        return
    _print_forecasts(f"Backtest, {horizon} day(s) ahead; refit {result['refit']}", result["forecasts"])


@app.command("forecast")
def forecast_command(
    data: DataOption,
    horizon: Annotated[int, typer.Option("--horizon", help="Days after the last day of the data (1..28).")] = 1,
    as_json: JsonOption = False,
    home: HomeOption = None,
) -> None:
    """The average gas price of the next day(s) after the data, with 80% intervals."""
    from ..analytics.fees.daily import load_daily
    from ..analytics.fees.forecaster import GasForecaster

    series = load_daily(data)
    model = GasForecaster(max_horizon=horizon).fit(series)
    rows = [f.to_dict() for f in model.predict(horizon)]
    if as_json:
        emit_json({"forecasts": rows, "history_end": series.date(len(series) - 1)})
        return
    _print_forecasts(f"Forecast after {series.date(len(series) - 1)}", rows)


def _block_source(file: Path | None, rpc: str | None, from_block: int | None, to_block: int | None):  # type: ignore[no-untyped-def]
    from ..analytics.fees.blocks import fetch_blocks, read_blocks_csv
    from ..errors import ConfigError

    if (file is None) == (rpc is None):
        raise ConfigError("give exactly one of --file CSV or --rpc URL")
    if file is not None:
        return read_blocks_csv(file)
    if from_block is None:
        raise ConfigError("--rpc needs --from (the first block to read)")
    return fetch_blocks(str(rpc), from_block, to_block)


@app.command("blocks")
def blocks_command(
    file: Annotated[
        Path | None, typer.Option("--file", help="Blocks CSV: number,gas_used,gas_limit[,base_fee_per_gas].")
    ] = None,
    rpc: Annotated[
        str | None, typer.Option("--rpc", help="A node's JSON-RPC URL (block headers and eth_feeHistory).")
    ] = None,
    from_block: Annotated[int | None, typer.Option("--from", help="First block to read over --rpc.")] = None,
    to_block: Annotated[int | None, typer.Option("--to", help="Last block [default: the latest].")] = None,
    k: Annotated[list[int] | None, typer.Option("--k", help="Blocks ahead (repeatable) [default: 5 and 25].")] = None,
    probability: Annotated[float, typer.Option("--probability", help="Wanted chance of inclusion.")] = 0.8,
    as_json: JsonOption = False,
    home: HomeOption = None,
) -> None:
    """Base fee of the next block (exact, EIP-1559) and k blocks ahead, and the max fee included within k blocks
    with the wanted probability."""
    from ..analytics.fees.eip1559 import BaseFeeForecaster
    from ..analytics.fees.feehistory import with_priority_fee

    blocks = _block_source(file, rpc, from_block, to_block)
    model = BaseFeeForecaster().fit(blocks)
    rows = [with_priority_fee(model.outlook(ahead, probability), blocks.fees) for ahead in k or [5, 25]]
    document = {
        "last_block": int(blocks.numbers[-1]),
        "next_base_fee_gwei": float(model.next_fee_ or 0) / 1e9,
        "reconstructed_base_fees": blocks.reconstructed,
        "forecasts": rows,
    }
    if as_json:
        emit_json(document)
        return
    table(
        f"Base fee after block {document['last_block']} (next: {document['next_base_fee_gwei']:.4f} gwei)",
        ["k", "p10", "p50", "p90", "max fee", "included with"],
        [
            [
                r["k"],
                *(f"{v:.4f}" for v in r["base_fee_gwei"].values()),
                f"{r['max_fee_gwei']:.4f}",
                f"{r['probability']:.0%}",
            ]
            for r in rows
        ],
    )
