"""Account-level tables in the layout of the public Ethereum fraud data set: read, clean, validate.

Column names are stripped of stray spaces and made unique (the public file repeats "ERC20 uniq sent addr");
``Address`` identifies accounts, ``FLAG`` (0/1) labels them when present; numeric columns are features and
text columns (token names) are set aside and named.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError, NotFound

ADDRESS = "Address"
LABEL = "FLAG"
IGNORED = {"Index", "Unnamed: 0"}


@dataclass
class AccountTable:
    """Features, labels (if any) and addresses of an account table."""

    features: pd.DataFrame
    addresses: pd.Series
    labels: np.ndarray | None
    dropped_text_columns: list[str] = field(default_factory=list)


def _clean_names(columns: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for raw in columns:
        name = " ".join(str(raw).split())
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


def read_accounts(path: str | os.PathLike[str], *, require_label: bool) -> AccountTable:
    """Read a CSV or Parquet account table; ``ConfigError`` with the reason for anything malformed."""
    target = Path(path)
    if not target.is_file():
        raise NotFound(f"no file {target}")
    try:
        frame = pd.read_parquet(target) if target.suffix.lower() == ".parquet" else pd.read_csv(target)
    except pd.errors.EmptyDataError:
        raise ConfigError(f"{target} is empty") from None
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ConfigError(f"{target} is not a readable table: {exc}") from None
    frame.columns = _clean_names(list(frame.columns))
    if frame.empty:
        raise ConfigError(f"{target} has a header but no rows")
    if ADDRESS not in frame.columns:
        close = [c for c in frame.columns if c.lower().strip() in ("address", "addr", "account")]
        hint = f" (found {close[0]!r}: rename it)" if close else ""
        raise ConfigError(f"{target} has no '{ADDRESS}' column{hint}")
    labels = None
    if require_label:
        if LABEL not in frame.columns:
            raise ConfigError(f"{target} has no '{LABEL}' label column (0 = ordinary, 1 = illicit)")
        raw = pd.to_numeric(frame[LABEL], errors="coerce")
        if raw.isna().any() or not set(raw.unique()) <= {0, 1}:
            raise ConfigError(f"'{LABEL}' must hold only 0 and 1 (found {sorted(map(str, frame[LABEL].unique()))[:5]})")
        if raw.nunique() < 2:
            raise ConfigError(f"'{LABEL}' holds one class only; training needs both")
        labels = raw.to_numpy(dtype=np.int64)
    body = frame.drop(columns=[c for c in frame.columns if c in IGNORED or c in (ADDRESS, LABEL)])
    numeric = [c for c in body.columns if pd.api.types.is_numeric_dtype(body[c])]
    text = [c for c in body.columns if c not in numeric]
    if not numeric:
        raise ConfigError(f"{target} has no numeric feature columns")
    return AccountTable(body[numeric].astype(np.float64), frame[ADDRESS].astype(str), labels, text)
