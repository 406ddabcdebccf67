"""Reading the IoT files: NASA C-MAPSS run-to-failure engines (remaining useful life per cycle) and the UCI
Beijing multi-site air-quality stations (next-hour PM2.5), with one ``ConfigError`` line per problem."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._files import read_bounded
from ..errors import ConfigError
from .tables import MAX_TABLE_BYTES, impute_median, numeric

CMAPSS_COLUMNS = 26
"""unit, cycle, 3 operational settings, 21 sensors."""
INFORMATIVE = (2, 3, 4, 7, 8, 9, 11, 12, 13, 14, 15, 17, 20, 21)
"""The 14 FD001 sensors that change over a run (the other 7 are constant or nearly so)."""
WINDOW = 10
"""Cycles in the trailing mean of each sensor."""
RUL_CAP = 125
"""Remaining useful life is capped at 125 cycles (a healthy engine's RUL is unknowable), as in the literature."""


@dataclass(frozen=True)
class Engines:
    """One row per engine cycle: features, capped RUL, and the engine (unit) number."""

    X: np.ndarray
    rul: np.ndarray
    unit: np.ndarray


def read_cmapss(path: Path) -> np.ndarray:
    """The C-MAPSS table (rows x 26 floats); ``ConfigError`` for an empty file, a short row or a non-number."""
    text = read_bounded(path, MAX_TABLE_BYTES, what=f"data file {path}").decode("utf-8", "replace")
    rows = [line.split() for line in text.splitlines() if line.strip()]
    if not rows:
        raise ConfigError(f"{path} is empty")
    for line, row in enumerate(rows, 1):
        if len(row) != CMAPSS_COLUMNS:
            raise ConfigError(f"{path} line {line}: {len(row)} fields, expected {CMAPSS_COLUMNS}")
    names = [str(c + 1) for c in range(CMAPSS_COLUMNS)]
    return fast_numeric(path, rows, list(range(CMAPSS_COLUMNS)), names, 1)


def fast_numeric(
    path: Path, rows: list[list[str]], indices: list[int], names: list[str], first_line: int
) -> np.ndarray:
    """:func:`tables.numeric` (``NA`` and empty -> NaN) converted by numpy; the slow path only to name a bad value."""
    text = np.array(rows, dtype=str)[:, indices]
    text[(text == "NA") | (text == "")] = "nan"
    try:
        return text.astype(np.float64)
    except ValueError:
        cleaned = [["" if v == "NA" else v for v in row] for row in text.tolist()]
        return numeric(path, cleaned, list(range(len(indices))), names, first_line)


def trailing_mean(values: np.ndarray, unit: np.ndarray, window: int) -> np.ndarray:
    """Mean of each column over the last ``window`` rows of the same unit (fewer at a run's start)."""
    out = np.empty_like(values)
    for u in np.unique(unit):
        rows = np.flatnonzero(unit == u)
        sums = np.cumsum(values[rows], axis=0)
        lagged = np.vstack([np.zeros((window, values.shape[1])), sums])[: len(rows)]
        counts = np.minimum(np.arange(1, len(rows) + 1), window)[:, None]
        out[rows] = (sums - lagged) / counts
    return out


def engines(table: np.ndarray) -> Engines:
    """Features (14 sensors, their trailing means, cycle / 100) and RUL = min(125, last cycle - cycle)."""
    unit, cycle = table[:, 0].astype(np.int64), table[:, 1]
    order = np.lexsort((cycle, unit))
    table, unit, cycle = table[order], unit[order], cycle[order]
    sensors = table[:, [4 + s for s in INFORMATIVE]]
    last = {u: cycle[unit == u].max() for u in np.unique(unit)}
    rul = np.minimum(RUL_CAP, np.array([last[u] for u in unit]) - cycle)
    X = np.c_[sensors, trailing_mean(sensors, unit, WINDOW), cycle / 100.0]
    return Engines(X, rul, unit)


POLLUTANTS = ["PM2.5", "PM10", "SO2", "NO2", "CO", "O3"]
WEATHER = ["TEMP", "PRES", "DEWP", "RAIN", "WSPM"]
STATION_COLUMNS = ["year", "month", "day", "hour", *POLLUTANTS, *WEATHER, "wd", "station"]
WIND = ["N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE", "S", "SSW", "SW", "WSW", "W", "WNW", "NW", "NNW"]


@dataclass(frozen=True)
class Station:
    """One station's next-hour rows: features at hour t, PM2.5 at t + 1 (whole ug/m3), and the date of t."""

    name: str
    X: np.ndarray
    y: np.ndarray
    day: np.ndarray
    """``year * 10000 + month * 100 + day`` of hour t."""
    persistence: np.ndarray
    """PM2.5 at hour t (the naive forecast)."""


def _station_table(path: Path) -> tuple[np.ndarray, np.ndarray, list[str], str]:
    """Pollutant and weather values, (year, month, day, hour), wind directions and the station name, parsed by
    pandas' C reader (``NA`` -> NaN); ``ConfigError`` for an empty file, a missing column or a non-number."""
    import io

    import pandas as pd

    raw = read_bounded(path, MAX_TABLE_BYTES, what=f"data file {path}")
    if not raw.strip():
        raise ConfigError(f"{path} is empty")
    try:
        frame = pd.read_csv(io.BytesIO(raw), na_values=["NA"], keep_default_na=False, encoding="utf-8-sig")
    except (ValueError, pd.errors.ParserError) as exc:
        raise ConfigError(f"{path} is not a CSV table: {str(exc).splitlines()[0][:120]}") from None
    missing = [c for c in STATION_COLUMNS if c not in frame.columns]
    if missing:
        raise ConfigError(f"{path} lacks column(s) {', '.join(missing)}")
    if frame.empty:
        raise ConfigError(f"{path} has a header but no rows")
    numbers = [*POLLUTANTS, *WEATHER, "year", "month", "day", "hour"]
    for column in numbers:
        if not pd.api.types.is_numeric_dtype(frame[column]):  # a value the C parser could not read as a number
            converted = pd.to_numeric(frame[column].replace("", "nan"), errors="coerce")
            row = int(np.flatnonzero(converted.isna() & (frame[column].astype(str) != "nan"))[0])
            value = str(frame[column].iloc[row])[:40]
            raise ConfigError(f"{path} line {row + 2}: column {column} is {value!r}, not a number")
    values = frame[numbers].to_numpy(dtype=np.float64)
    return values[:, :-4], values[:, -4:], [str(w).strip() for w in frame["wd"]], str(frame["station"].iloc[0]).strip()


def read_station(path: Path) -> Station:
    """A PRSA station file: rows where PM2.5 at t and t + 1 are both measured (other gaps: column median)."""
    values, when, directions, name = _station_table(path)
    if np.isnan(when).any():
        raise ConfigError(f"{path}: year, month, day and hour must be set in every row")
    angle = np.array([WIND.index(d) if d in WIND else -1 for d in directions])
    wind = np.where(angle[:, None] >= 0, np.c_[np.sin(angle * np.pi / 8), np.cos(angle * np.pi / 8)], 0.0)
    pm = values[:, 0]
    lags = np.c_[np.r_[np.nan, pm[:-1]], np.r_[np.nan, np.nan, pm[:-2]]]
    hour, month = when[:, 3], when[:, 1]
    cycle = np.c_[
        np.sin(hour * np.pi / 12), np.cos(hour * np.pi / 12), np.sin(month * np.pi / 6), np.cos(month * np.pi / 6)
    ]
    X = np.c_[np.clip(values[:, :6], 0, None), values[:, 6:], np.clip(lags, 0, None), wind, cycle]
    target = np.r_[pm[1:], np.nan]
    keep = ~np.isnan(pm) & ~np.isnan(target)
    if not keep.any():
        raise ConfigError(f"{path}: no hour with PM2.5 measured at that hour and the next")
    X = impute_median(X)
    day = (when[:, 0] * 10000 + when[:, 1] * 100 + when[:, 2]).astype(np.int64)
    return Station(name, X[keep], np.round(target[keep]), day[keep], pm[keep])
