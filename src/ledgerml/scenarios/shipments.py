"""Reading the USAID SCMS delivery history: the late-delivery label, features known before delivery, the
destination country of each shipment and its ID, with one ``ConfigError`` line per problem."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from .tables import numeric, signed_log, with_header

SCHEDULED, DELIVERED = "Scheduled Delivery Date", "Delivered to Client Date"
PO_SENT, PQ_SENT = "PO Sent to Vendor Date", "PQ First Sent to Client Date"
CATEGORICAL = [
    "Shipment Mode",
    "Fulfill Via",
    "Vendor INCO Term",
    "Product Group",
    "Sub Classification",
    "First Line Designation",
    "Dosage Form",
    "Vendor",
]
AMOUNTS = ["Line Item Quantity", "Line Item Value", "Pack Price", "Unit Price", "Unit of Measure (Per Pack)"]
WEIGHT = "Weight (Kilograms)"
REQUIRED = ["ID", "Country", SCHEDULED, DELIVERED, PO_SENT, PQ_SENT, WEIGHT, *CATEGORICAL, *AMOUNTS]
PRE_PQ, NOT_CAPTURED = "Pre-PQ Process", "Date Not Captured"
PQ_STATUS = ["PQ pre-process", "PQ date not captured"]
MIN_SHARE = 0.005
"""A categorical value gets its own column when at least this share of shipments has it; the rest is 'other'."""
_DATE_FORMATS = ("%d-%b-%y", "%m/%d/%y", "%Y-%m-%d", "%d-%b-%Y", "%m/%d/%Y")


@dataclass(frozen=True)
class Shipments:
    """Features (one row per shipment), the late label, the destination country and the shipment ID."""

    X: np.ndarray
    y: np.ndarray
    country: list[str]
    ids: list[str]
    columns: list[str]
    amounts: np.ndarray
    """The shipment's commercial figures (signed-log quantity, value, pack and unit price, weight)."""


def parse_date(value: str) -> date | None:
    """A date in any of the file's formats, or None for 'Date Not Captured', 'N/A - From RDC' and the like."""
    text = value.strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _required_date(path: Path, value: str, column: str, line: int) -> date:
    found = parse_date(value)
    if found is None:
        raise ConfigError(f"{path} line {line}: column {column} is {value[:40]!r}, not a date")
    return found


def _one_hot(values: list[str], name: str) -> tuple[np.ndarray, list[str]]:
    """Columns for the frequent values (sorted) and 'other'."""
    counts = Counter(values)
    keep = sorted(v for v, n in counts.items() if n >= max(1.0, MIN_SHARE * len(values)))
    index = {v: i for i, v in enumerate(keep)}
    out = np.zeros((len(values), len(keep) + 1))
    out[np.arange(len(values)), [index.get(v, len(keep)) for v in values]] = 1.0
    return out, [f"{name}={v}" for v in keep] + [f"{name}=other"]


def _days(later: list[date | None], earlier: list[date | None]) -> np.ndarray:
    """Days between two dates per row (hundreds of days, clipped to +-5), and whether either date is missing."""
    gaps = np.array([(a - b).days / 100.0 if a and b else np.nan for a, b in zip(later, earlier, strict=True)])
    missing = np.isnan(gaps)
    return np.asarray(np.c_[np.clip(np.nan_to_num(gaps), -5, 5), missing.astype(float)])


def pq_status(values: list[str]) -> np.ndarray:
    """Per row, whether the PQ date field says 'Pre-PQ Process' (ordered before the price-quote process) and
    whether it says 'Date Not Captured' (chosen on the validation split: ``benchmarks/scenario_features.py``)."""
    text = [v.strip() for v in values]
    return np.array([[v == PRE_PQ, v == NOT_CAPTURED] for v in text], dtype=float).reshape(len(text), 2)


def read_shipments(path: Path) -> Shipments:
    """Every shipment of the SCMS file: late = delivered after the scheduled date."""
    header, body = with_header(path, REQUIRED)
    col = {name: header.index(name) for name in REQUIRED}
    scheduled = [_required_date(path, r[col[SCHEDULED]], SCHEDULED, i) for i, r in enumerate(body, 2)]
    delivered = [_required_date(path, r[col[DELIVERED]], DELIVERED, i) for i, r in enumerate(body, 2)]
    y = np.array([d > s for d, s in zip(delivered, scheduled, strict=True)], dtype=np.int64)
    amounts = signed_log(numeric(path, body, [col[c] for c in AMOUNTS], AMOUNTS, 2))
    amounts = np.nan_to_num(amounts)
    weight = np.array([_number_or_nan(r[col[WEIGHT]]) for r in body])
    weights = np.c_[signed_log(np.nan_to_num(weight)), np.isnan(weight).astype(float)]
    po = [parse_date(r[col[PO_SENT]]) for r in body]
    pq = [parse_date(r[col[PQ_SENT]]) for r in body]
    month = np.array([s.month for s in scheduled], dtype=float)
    calendar = np.c_[[s.year - 2010 for s in scheduled], np.sin(2 * np.pi * month / 12), np.cos(2 * np.pi * month / 12)]
    blocks = [amounts, weights, calendar, _days(scheduled, po), _days(po, pq)]  # type: ignore[arg-type]
    names = [*AMOUNTS, "weight", "weight missing", "year", "month sin", "month cos"]
    names += ["lead time", "lead time missing", "PQ to PO", "PQ to PO missing"]
    for column in CATEGORICAL:
        block, labels = _one_hot([r[col[column]].strip() for r in body], column)
        blocks.append(block)
        names += labels
    blocks.append(pq_status([r[col[PQ_SENT]] for r in body]))
    names += PQ_STATUS
    return Shipments(
        np.hstack(blocks),
        y,
        [r[col["Country"]].strip() for r in body],
        [r[col["ID"]].strip() for r in body],
        names,
        np.c_[amounts[:, :4], weights[:, :1]],
    )


def _number_or_nan(value: str) -> float:
    """A number, or NaN for the file's notes ('Weight Captured Separately', 'See ASN-93 (ID#:1281)')."""
    try:
        return float(value.strip())
    except ValueError:
        return float("nan")
