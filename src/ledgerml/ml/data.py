"""Bundled scikit-learn data sets (digits, breast cancer), train/validation splits, IID and Dirichlet
non-IID partitions, and CSV export so each partition can be registered as a dataset by its owner.

``own`` names no bundled set: the organisations bring their own partitions (``setup_federation(data=...)``,
used by the application scenarios in ``ledgerml.scenarios``)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..errors import ConfigError

DATASETS = ("digits", "breast_cancer", "own")
OWN = "own"
"""The data set name of a federation whose organisations bring their own partitions."""


def load(name: str) -> tuple[np.ndarray, np.ndarray, int]:
    """Features (scaled), labels and number of classes of a bundled data set."""
    from sklearn import datasets

    if name == "digits":
        bunch = datasets.load_digits()
        return bunch.data / 16.0, bunch.target.astype(np.int64), 10
    if name == "breast_cancer":
        bunch = datasets.load_breast_cancer()
        X = bunch.data
        return (X - X.mean(axis=0)) / X.std(axis=0), bunch.target.astype(np.int64), 2
    if name == OWN:
        raise ConfigError("data set 'own' means the organisations' own partitions: run it as a scenario")
    raise ConfigError(f"unknown data set {name!r}; bundled: {list(DATASETS)}")


def split(
    X: np.ndarray, y: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle and split off ``fraction`` of the rows (stratification not needed at these sizes)."""
    order = np.random.default_rng(seed).permutation(len(X))
    cut = round(len(X) * (1 - fraction))
    a, b = order[:cut], order[cut:]
    return X[a], y[a], X[b], y[b]


def partition_iid(n_rows: int, parts: int, seed: int) -> list[np.ndarray]:
    """Equal-sized random shards."""
    order = np.random.default_rng(seed).permutation(n_rows)
    return [np.sort(chunk) for chunk in np.array_split(order, parts)]


def partition_dirichlet(y: np.ndarray, parts: int, alpha: float, seed: int, min_size: int = 10) -> list[np.ndarray]:
    """Label-skewed shards: each class is spread over participants with Dirichlet(alpha) proportions
    (smaller alpha, more skew). Redraws until every shard has ``min_size`` rows."""
    if alpha <= 0:
        raise ConfigError("alpha must be positive")
    rng = np.random.default_rng(seed)
    for _ in range(1000):
        shards: list[list[int]] = [[] for _ in range(parts)]
        for label in np.unique(y):
            rows = rng.permutation(np.flatnonzero(y == label))
            shares = rng.dirichlet(np.full(parts, alpha))
            cuts = (np.cumsum(shares) * len(rows)).astype(int)[:-1]
            for shard, chunk in zip(shards, np.split(rows, cuts), strict=True):
                shard.extend(chunk.tolist())
        if min(len(s) for s in shards) >= min_size:
            return [np.sort(np.array(s, dtype=np.int64)) for s in shards]
    raise ConfigError(f"cannot give {parts} participants {min_size} rows each with alpha={alpha}")


def write_csv(path: Path, X: np.ndarray, y: np.ndarray) -> Path:
    """Write features and label as CSV (repr of floats, so the values round-trip exactly). Integer labels
    (classes) are written as integers, float labels (regression targets) as the repr of the float."""
    as_label = int if np.issubdtype(np.asarray(y).dtype, np.integer) else (lambda v: repr(float(v)))
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([f"x{i}" for i in range(X.shape[1])] + ["label"])
        for row, label in zip(X, y, strict=True):
            writer.writerow([repr(float(v)) for v in row] + [as_label(label)])
    return path


def read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a CSV written by :func:`write_csv`: integer labels as int64, float labels as float64."""
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    data = np.array([[float(v) for v in r[:-1]] for r in rows[1:]])
    labels = [r[-1] for r in rows[1:]]
    if all(label.lstrip("-").isdigit() for label in labels):
        return data, np.array([int(label) for label in labels], dtype=np.int64)
    return data, np.array([float(label) for label in labels], dtype=np.float64)
