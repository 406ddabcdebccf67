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
