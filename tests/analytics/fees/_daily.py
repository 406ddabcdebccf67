"""Generated daily series in the Etherscan export layout (values in wei), for the forecasting tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

FILES = {
    "AvgGasPrice": "Value (Wei)",
    "TxGrowth": "Value",
    "GasUsed": "Value",
    "GasLimit": "Value",
    "EtherPrice": "Value",
}


def generated(days: int = 170, seed: int = 1) -> dict[str, list[float]]:
    """A log random walk with a weekly pattern for the gas price (wei) and plausible extra series."""
    rng = np.random.default_rng(seed)
    weekday = np.arange(days) % 7
    log_gas = np.log(20e9) + np.cumsum(rng.normal(0, 0.08, days)) + 0.15 * (weekday >= 5)
    tx = 1.1e6 * np.exp(np.cumsum(rng.normal(0, 0.02, days)))
    return {
        "AvgGasPrice": [float(round(v)) for v in np.exp(log_gas)],
        "TxGrowth": [float(round(v)) for v in tx],
        "GasUsed": [float(round(v)) for v in tx * 60_000],
        "GasLimit": [30_000_000.0] * days,
        "EtherPrice": list(2000 * np.exp(np.cumsum(rng.normal(0, 0.03, days)))),
    }


def write(
    folder: Path,
    series: dict[str, list[float]],
    start: dt.date = dt.date(2020, 1, 1),
    dates: list[dt.date] | None = None,
) -> Path:
    """Write ``export-*.csv`` files (``dates`` overrides consecutive days from ``start``)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, values in series.items():
        days = dates or [start + dt.timedelta(days=i) for i in range(len(values))]
        lines = [f"Date(UTC),UnixTimeStamp,{FILES[name]}"]
        for day, value in zip(days, values, strict=True):
            stamp = (day - dt.date(1970, 1, 1)).days * 86400
            lines.append(
                f"{day.month}/{day.day}/{day.year},{stamp},{value:.0f}"
                if name != "EtherPrice"
                else f"{day.month}/{day.day}/{day.year},{stamp},{value:.2f}"
            )
        (folder / f"export-{name}.csv").write_text("\n".join(lines) + "\n")
    return folder
