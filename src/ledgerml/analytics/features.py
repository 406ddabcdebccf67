"""Account features from raw transactions: the public Ethereum fraud data set's statistics wherever they can
be derived from transactions (counts, min/max/mean values, time between transactions, unique counterparties,
contract creations, balance, and the ERC20 statistics from token transfers - token contracts stand in for
token names), named as in that data set, plus transaction-graph features over ether transfers (PageRank,
reciprocity, burstiness, fan-in share, pass-through)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError, NotFound

REQUIRED = ("from", "to", "value", "timestamp")
TRANSACTION_FEATURES = (
    "Sent tnx",
    "Received Tnx",
    "Number of Created Contracts",
    "Unique Received From Addresses",
    "Unique Sent To Addresses",
    "min value received",
    "max value received",
    "avg val received",
    "total ether received",
    "min val sent",
    "max val sent",
    "avg val sent",
    "total Ether sent",
    "Avg min between sent tnx",
    "Avg min between received tnx",
    "Time Diff between first and last (Mins)",
    "total transactions (including tnx to create contract",
    "total ether balance",
    "graph pagerank",
    "graph reciprocity",
    "graph burstiness",
    "graph fan-in share",
    "graph passthrough",
    "Total ERC20 tnxs",
    "ERC20 total Ether received",
    "ERC20 total ether sent",
    "ERC20 uniq sent addr",
    "ERC20 uniq rec addr",
    "ERC20 uniq rec contract addr",
    "ERC20 avg time between sent tnx",
    "ERC20 avg time between rec tnx",
    "ERC20 min val rec",
    "ERC20 max val rec",
    "ERC20 avg val rec",
    "ERC20 min val sent",
    "ERC20 max val sent",
    "ERC20 avg val sent",
    "ERC20 uniq sent token name",
    "ERC20 uniq rec token name",
)
"""The feature columns :func:`account_features` writes (after ``Address``), in this order: the ``transactions``
feature schema, which ``fraud train --schema transactions`` restricts a model to."""


def read_transactions(path: Path) -> pd.DataFrame:
    """A raw transaction table from CSV or Parquet (checked by :func:`account_features`)."""
    if not path.is_file():
        raise NotFound(f"no file {path}")
    try:
        return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ConfigError(f"{path} is not a readable table: {exc}") from None


def check_transactions(frame: pd.DataFrame) -> pd.DataFrame:
    """Validate and normalise a transaction table (``from, to, value, timestamp`` [, ``contract_creation``])."""
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise ConfigError(f"transactions need columns {list(REQUIRED)}; missing {missing}")
    if frame.empty:
        raise ConfigError("the transaction table has no rows")
    out = frame.copy()
    for column in ("value", "timestamp"):
        out[column] = pd.to_numeric(out[column], errors="coerce")
        if out[column].isna().any():
            raise ConfigError(f"column '{column}' must be numeric")
    out["from"] = out["from"].astype(str).str.lower()
    out["to"] = out["to"].fillna("").astype(str).str.lower()
    out["contract_creation"] = out.get("contract_creation", pd.Series(False, index=out.index)).astype(bool)
    out["token"] = out.get("token", pd.Series("", index=out.index)).fillna("").astype(str).str.lower()
    return out


def _gap_minutes(times: pd.Series) -> float:
    ordered = np.sort(times.to_numpy(dtype=np.float64))
    return float(np.diff(ordered).mean() / 60.0) if len(ordered) > 1 else 0.0


def pagerank(
    sources: np.ndarray, targets: np.ndarray, n: int, damping: float = 0.85, iterations: int = 100
) -> np.ndarray:
    """PageRank of a directed multigraph by power iteration (dangling mass spread uniformly)."""
    from scipy import sparse

    if n == 0:
        return np.zeros(0)
    adjacency = sparse.csr_matrix((np.ones(len(sources)), (sources, targets)), shape=(n, n))
    out_degree = np.asarray(adjacency.sum(axis=1)).ravel()
    transition = sparse.diags(np.divide(1.0, out_degree, out=np.zeros(n), where=out_degree > 0)) @ adjacency
    rank = np.full(n, 1.0 / n)
    for _ in range(iterations):
        dangling = rank[out_degree == 0].sum()
        updated = damping * (transition.T @ rank + dangling / n) + (1 - damping) / n
        if np.abs(updated - rank).sum() < 1e-12:
            return np.asarray(updated)
        rank = updated
    return rank


def account_features(transactions: pd.DataFrame) -> pd.DataFrame:
    """One row per address seen, with an ``Address`` column and numeric features. Rows with a ``token``
    (ERC-20 transfers) feed the ERC20 statistics; the rest are ether transactions."""
    everything = check_transactions(transactions)
    tx = everything[everything["token"] == ""]
    tokens = everything[(everything["token"] != "") & (everything["to"] != "")]
    transfers = tx[tx["to"] != ""]
    addresses = sorted(
        set(transfers["from"]) | set(transfers["to"]) | set(tx["from"]) | set(tokens["from"]) | set(tokens["to"])
    )
    frame = pd.DataFrame(index=pd.Index(addresses, name="Address"))
    times = _ether_features(frame, tx, transfers)
    _graph_features(frame, transfers, times, addresses)
    _token_features(frame, tokens)
    return frame.reindex(columns=list(TRANSACTION_FEATURES)).reset_index()


ZERO_WHEN_ABSENT = (
    "Sent tnx",
    "Received Tnx",
    "Number of Created Contracts",
    "Unique Received From Addresses",
    "Unique Sent To Addresses",
    "total ether received",
    "total Ether sent",
)
"""Ether statistics that are 0, not missing, for an account without such transactions."""


def _ether_features(frame: pd.DataFrame, tx: pd.DataFrame, transfers: pd.DataFrame) -> pd.DataFrame:
    """The public data set's ether statistics, in place; returns each transfer's (account, time) pairs."""
    sent, received = transfers.groupby("from"), transfers.groupby("to")
    frame["Sent tnx"] = sent.size()
    frame["Received Tnx"] = received.size()
    frame["Number of Created Contracts"] = tx[tx["contract_creation"]].groupby("from").size()
    frame["Unique Received From Addresses"] = received["from"].nunique()
    frame["Unique Sent To Addresses"] = sent["to"].nunique()
    for label, group in (("received", received), ("sent", sent)):
        stats = group["value"].agg(["min", "max", "mean", "sum"])
        short = "value received" if label == "received" else "val sent"
        frame[f"min {short}"] = stats["min"]
        frame[f"max {short}"] = stats["max"]
        frame[f"avg {'val received' if label == 'received' else 'val sent'}"] = stats["mean"]
        frame[f"total {'ether received' if label == 'received' else 'Ether sent'}"] = stats["sum"]
    frame["Avg min between sent tnx"] = sent["timestamp"].apply(_gap_minutes)
    frame["Avg min between received tnx"] = received["timestamp"].apply(_gap_minutes)
    times = pd.concat(
        [
            transfers[["from", "timestamp"]].rename(columns={"from": "a"}),
            transfers[["to", "timestamp"]].rename(columns={"to": "a"}),
        ]
    )
    span = times.groupby("a")["timestamp"].agg(["min", "max", "size"])
    frame["Time Diff between first and last (Mins)"] = (span["max"] - span["min"]) / 60.0
    frame["total transactions (including tnx to create contract"] = span["size"]
    frame.fillna({c: 0.0 for c in ZERO_WHEN_ABSENT}, inplace=True)
    frame["total ether balance"] = frame["total ether received"] - frame["total Ether sent"]
    return times


def _graph_features(frame: pd.DataFrame, transfers: pd.DataFrame, times: pd.DataFrame, addresses: list[str]) -> None:
    """Transaction-graph features over ether transfers, in place: PageRank, reciprocity, burstiness, fan-in
    share, pass-through."""
    index = {a: i for i, a in enumerate(addresses)}
    src = transfers["from"].map(index).to_numpy()
    dst = transfers["to"].map(index).to_numpy()
    frame["graph pagerank"] = pagerank(src, dst, len(addresses)) * len(addresses)
    pairs = set(zip(transfers["from"], transfers["to"], strict=True))
    frame["graph reciprocity"] = pd.Series({a: 0.0 for a in addresses}, dtype=float) + pd.Series(
        {a: 1.0 for (a, b) in pairs if (b, a) in pairs}, dtype=float
    )
    frame["graph reciprocity"] = frame["graph reciprocity"].fillna(0.0)
    size = times.groupby("a")["timestamp"].size()
    hourly = times.assign(hour=(times["timestamp"] // 3600)).groupby(["a", "hour"]).size().groupby("a").max()
    frame["graph burstiness"] = hourly / size
    degree = frame["Unique Received From Addresses"] + frame["Unique Sent To Addresses"]
    frame["graph fan-in share"] = (frame["Unique Received From Addresses"] / degree.where(degree > 0)).fillna(0.0)
    frame["graph passthrough"] = (
        frame["total Ether sent"] / frame["total ether received"].where(frame["total ether received"] > 0)
    ).fillna(0.0)


def _token_features(frame: pd.DataFrame, tokens: pd.DataFrame) -> None:
    """The public data set's ERC20 statistics; accounts without token activity keep them missing, as there."""
    sent, received = tokens.groupby("from"), tokens.groupby("to")
    frame["Total ERC20 tnxs"] = sent.size().add(received.size(), fill_value=0)
    frame["ERC20 total Ether received"] = received["value"].sum()
    frame["ERC20 total ether sent"] = sent["value"].sum()
    frame["ERC20 uniq sent addr"] = sent["to"].nunique()
    frame["ERC20 uniq rec addr"] = received["from"].nunique()
    frame["ERC20 uniq rec contract addr"] = received["token"].nunique()
    frame["ERC20 avg time between sent tnx"] = sent["timestamp"].apply(_gap_minutes)
    frame["ERC20 avg time between rec tnx"] = received["timestamp"].apply(_gap_minutes)
    for label, group in (("rec", received), ("sent", sent)):
        stats = group["value"].agg(["min", "max", "mean"])
        frame[f"ERC20 min val {label}"] = stats["min"]
        frame[f"ERC20 max val {label}"] = stats["max"]
        frame[f"ERC20 avg val {label}"] = stats["mean"]
    frame["ERC20 uniq sent token name"] = sent["token"].nunique()
    frame["ERC20 uniq rec token name"] = received["token"].nunique()
