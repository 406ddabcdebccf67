"""Reading the scenarios' CSV files: bounded, checked columns, one ``ConfigError`` line per problem."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._csv import csv_rows
from .._files import read_bounded
from ..errors import ConfigError

MAX_TABLE_BYTES = 256 * 1024 * 1024
"""Largest data file a scenario reads."""


def read_rows(path: Path, *, columns: int | None = None) -> list[list[str]]:
    """Every row of a CSV file (UTF-8, BOM allowed); ``ConfigError`` when it is empty or, with ``columns``,
    a row has another number of fields (naming the line)."""
    raw = read_bounded(path, MAX_TABLE_BYTES, what=f"data file {path}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (byte {exc.start})") from None
    rows = csv_rows(text, str(path))
    if not rows:
        raise ConfigError(f"{path} is empty")
    if columns is not None:
        for line, row in enumerate(rows, 1):
            if len(row) != columns:
                raise ConfigError(f"{path} line {line}: {len(row)} fields, expected {columns}")
    return rows


def with_header(path: Path, required: list[str]) -> tuple[list[str], list[list[str]]]:
    """The header and body of a CSV file with a header row; ``ConfigError`` naming missing columns or an
    empty body."""
    rows = read_rows(path)
    header = [h.strip() for h in rows[0]]
    missing = [c for c in required if c not in header]
    if missing:
        raise ConfigError(f"{path} lacks column(s) {', '.join(missing)}")
    body = rows[1:]
    if not body:
        raise ConfigError(f"{path} has a header but no rows")
    for line, row in enumerate(body, 2):
        if len(row) != len(header):
            raise ConfigError(f"{path} line {line}: {len(row)} fields, expected {len(header)}")
    return header, body


def numeric(path: Path, rows: list[list[str]], indices: list[int], names: list[str], first_line: int) -> np.ndarray:
    """Columns ``indices`` of ``rows`` as floats (empty or ``nan`` -> NaN); ``ConfigError`` naming the first
    value that is not a number."""
    out = np.empty((len(rows), len(indices)), dtype=np.float64)
    for r, row in enumerate(rows):
        for c, index in enumerate(indices):
            value = row[index].strip()
            try:
                out[r, c] = float(value) if value else np.nan
            except ValueError:
                raise ConfigError(
                    f"{path} line {r + first_line}: column {names[c]} is {value[:40]!r}, not a number"
                ) from None
    return out


def impute_median(X: np.ndarray) -> np.ndarray:
    """Missing values replaced by their column's median (0 for a column with no values)."""
    X = X.copy()
    for c in range(X.shape[1]):
        missing = np.isnan(X[:, c])
        if missing.any():
            known = X[~missing, c]
            X[missing, c] = float(np.median(known)) if len(known) else 0.0
    return X


def signed_log(X: np.ndarray) -> np.ndarray:
    """``sign(x) * log1p(|x|)``: heavy-tailed amounts on a scale a linear model can use."""
    return np.asarray(np.sign(X) * np.log1p(np.abs(X)))
