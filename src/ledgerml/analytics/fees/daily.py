"""The daily Ethereum series (Etherscan chart exports, ``export-*.csv``): strict reading and checking.

Handling, documented: leading days whose gas price is 0 (the chain before its first transactions) are dropped;
any later zero or negative value, a missing day, an unsorted or duplicated date, a date that disagrees with its
Unix timestamp, files whose days disagree, or gas prices that look like gwei instead of wei are ``ConfigError``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..._csv import csv_rows
from ..._files import read_bounded
from ...errors import ConfigError

GAS_FILE = "export-AvgGasPrice.csv"
EXTRA_FILES = {
    "tx": "export-TxGrowth.csv",
    "used": "export-GasUsed.csv",
    "limit": "export-GasLimit.csv",
    "ether": "export-EtherPrice.csv",
}
"""Optional series: used as features when all are present (the gas price alone is enough)."""
MAX_FILE_BYTES = 16 << 20
DAY = 86400
MIN_WEI = 1e6
"""A daily average gas price below 0.001 gwei is taken as a unit mistake (values given in gwei, not wei)."""


@dataclass(frozen=True)
class DailySeries:
    """Consecutive days: ``days`` (Unix day numbers), gas price in gwei, and optional extra series."""

    days: np.ndarray
    gas_gwei: np.ndarray
    extra: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.days)

    def date(self, index: int) -> str:
        """The ISO date of day ``index``."""
        return day_to_iso(int(self.days[index]))

    def index_of(self, iso: str) -> int:
        """The index of an ISO date; ``ConfigError`` when outside the series."""
        day = iso_to_day(iso)
        first, last = int(self.days[0]), int(self.days[-1])
        if not first <= day <= last:
            raise ConfigError(f"date {iso} is outside the data ({self.date(0)} .. {self.date(len(self) - 1)})")
        return day - first

    def upto(self, stop: int) -> DailySeries:
        """The first ``stop`` days only (what was known before day ``stop``)."""
        return DailySeries(self.days[:stop], self.gas_gwei[:stop], {k: v[:stop] for k, v in self.extra.items()})


def day_to_iso(day: int) -> str:
    """Unix day number -> ``YYYY-MM-DD``."""
    return (dt.date(1970, 1, 1) + dt.timedelta(days=day)).isoformat()


def iso_to_day(iso: str) -> int:
    """``YYYY-MM-DD`` -> Unix day number; ``ConfigError`` for anything else."""
    try:
        return (dt.date.fromisoformat(iso) - dt.date(1970, 1, 1)).days if len(iso) == 10 else _bad_date(iso)
    except ValueError:
        return _bad_date(iso)


def _bad_date(iso: str) -> int:
    raise ConfigError(f"date {iso!r} is not YYYY-MM-DD")


def _parse_row(row: list[str], name: str, line: int) -> tuple[int, float]:
    """One ``Date(UTC),UnixTimeStamp,Value`` row -> (Unix day, value)."""
    if len(row) < 3:
        raise ConfigError(f"{name} line {line}: expected Date(UTC),UnixTimeStamp,Value")
    try:
        month, day, year = (int(part) for part in row[0].split("/"))
        date_day = (dt.date(year, month, day) - dt.date(1970, 1, 1)).days
        stamp, value = int(row[1]), float(row[2])
    except ValueError:
        raise ConfigError(f"{name} line {line}: cannot read {','.join(row[:3])!r}") from None
    if stamp != date_day * DAY:
        raise ConfigError(f"{name} line {line}: date {row[0]} disagrees with its timestamp {stamp}")
    if not np.isfinite(value):
        raise ConfigError(f"{name} line {line}: value {row[2]!r} is not a finite number")
    return date_day, value


def read_export(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Days and values of one export file, checked: sorted, no duplicate, no missing day."""
    text = read_bounded(path, MAX_FILE_BYTES).decode("utf-8-sig", errors="replace")
    rows = csv_rows(text, path.name)
    if len(rows) < 2 or not rows[0][0].startswith("Date"):
        raise ConfigError(f"{path.name}: expected a header Date(UTC),UnixTimeStamp,Value and at least one row")
    parsed = [_parse_row(row, path.name, n + 2) for n, row in enumerate(rows[1:])]
    days = np.array([d for d, _ in parsed], dtype=np.int64)
    values = np.array([v for _, v in parsed], dtype=np.float64)
    steps = np.diff(days)
    for problem, mask in (("is duplicated", steps == 0), ("is out of order", steps < 0), ("missing", steps > 1)):
        if mask.any():
            at = int(np.argmax(mask))
            what = (
                f"days after {day_to_iso(int(days[at]))} are missing"
                if problem == "missing"
                else (f"date {day_to_iso(int(days[at + 1]))} {problem}")
            )
            raise ConfigError(f"{path.name}: {what} (line {at + 3})")
    return days, values


def _checked_positive(name: str, days: np.ndarray, values: np.ndarray) -> None:
    bad = values <= 0
    if bad.any():
        at = int(np.argmax(bad))
        raise ConfigError(f"{name}: value {values[at]:g} on {day_to_iso(int(days[at]))} is zero or negative")


def _read_extra(folder: Path, days: np.ndarray) -> dict[str, np.ndarray]:
    """The optional series aligned to ``days``; all of them or none."""
    present = {key: folder / name for key, name in EXTRA_FILES.items() if (folder / name).exists()}
    if not present:
        return {}
    if len(present) < len(EXTRA_FILES):
        missing = sorted(set(EXTRA_FILES.values()) - {p.name for p in present.values()})
        raise ConfigError(f"{folder}: give all of the extra series or none; missing {', '.join(missing)}")
    extra = {}
    for key, path in present.items():
        other_days, values = read_export(path)
        offset = int(days[0] - other_days[0]) if len(other_days) else -1
        if offset < 0 or len(other_days) < offset + len(days) or other_days[offset + len(days) - 1] != days[-1]:
            raise ConfigError(f"{path.name} does not cover the days of {GAS_FILE}")
        extra[key] = values[offset : offset + len(days)]
        _checked_positive(path.name, days, extra[key])
    return extra


def load_daily(folder: Path) -> DailySeries:
    """The checked series of ``folder`` (``export-AvgGasPrice.csv`` in wei, the extra files if present)."""
    if not folder.is_dir():
        raise ConfigError(f"--data {folder} is not a folder")
    days, wei = read_export(folder / GAS_FILE)
    positive = np.nonzero(wei > 0)[0]
    if not len(positive):
        raise ConfigError(f"{GAS_FILE}: no positive gas price")
    days, wei = days[positive[0] :], wei[positive[0] :]
    _checked_positive(GAS_FILE, days, wei)
    if float(np.median(wei)) < MIN_WEI:
        raise ConfigError(f"{GAS_FILE}: gas prices look like gwei (median {np.median(wei):g}); the file holds wei")
    return DailySeries(days, wei / 1e9, _read_extra(folder, days))
