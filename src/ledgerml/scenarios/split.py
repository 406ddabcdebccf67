"""Pure helpers every study uses: a stratified validation/test hold-out, standardisation with the training
rows' statistics, and the organisations' rows from a group label per row."""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from .base import Organisation, StudyData


def holdout(y: np.ndarray, fractions: tuple[float, float], seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices of (train, validation, test), stratified by label: ``fractions`` = (validation, test)."""
    rng = np.random.default_rng(seed)
    parts: tuple[list[int], list[int], list[int]] = ([], [], [])
    for label in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == label))
        n_val, n_test = round(len(rows) * fractions[0]), round(len(rows) * fractions[1])
        parts[1].extend(rows[:n_val].tolist())
        parts[2].extend(rows[n_val : n_val + n_test].tolist())
        parts[0].extend(rows[n_val + n_test :].tolist())
    return tuple(np.sort(np.array(p, dtype=np.int64)) for p in parts)  # type: ignore[return-value]


def standardise(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """``train`` and ``others`` scaled by the training rows' mean and deviation (constant columns left at 0)."""
    mean, std = train.mean(axis=0), train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return [(a - mean) / std for a in (train, *others)]


def study_data(
    X: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    names: list[str],
    *,
    split_rule: str,
    license: str,
    seed: int = 0,
    fractions: tuple[float, float] = (0.1, 0.2),
) -> StudyData:
    """Hold out validation and test rows (stratified), standardise, and give organisation ``i`` the training
    rows with ``groups == i``; ``ConfigError`` when an organisation gets fewer than 2 rows."""
    train, val, test = holdout(y, fractions, seed)
    X_train, X_val, X_test = standardise(X[train], X[val], X[test])
    organisations = []
    for index, name in enumerate(names):
        mine = groups[train] == index
        if mine.sum() < 2:
            raise ConfigError(f"organisation {name!r} gets {int(mine.sum())} training rows; it needs at least 2")
        organisations.append(Organisation(name, X_train[mine], y[train][mine].astype(np.int64)))
    n_classes = int(y.max()) + 1
    return StudyData(
        organisations, X_val, y[val].astype(np.int64), X_test, y[test].astype(np.int64), n_classes, split_rule, license
    )


def dirichlet_groups(y: np.ndarray, parts: int, alpha: float, seed: int) -> np.ndarray:
    """A group per row: each class spread over ``parts`` groups with Dirichlet(``alpha``) shares."""
    from ..ml.data import partition_dirichlet

    groups = np.empty(len(y), dtype=np.int64)
    for index, rows in enumerate(partition_dirichlet(y, parts, alpha, seed)):
        groups[rows] = index
    return groups
