"""Pure helpers every study uses: a stratified validation/test hold-out, standardisation with statistics the
organisations combine from their own aggregates, and the organisations' rows from a group label per row."""

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


def moments(X: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """What one organisation shares for the consortium's feature scaling: its row count, column means and
    column sums of squared deviations (aggregates, never rows)."""
    mean = X.mean(axis=0)
    return len(X), mean, ((X - mean) ** 2).sum(axis=0)


def consortium_scaling(parts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The features' mean and deviation over every organisation's training rows, combined from each one's
    :func:`moments` (Chan et al.'s parallel update) without pooling the rows; a column whose deviation is at
    rounding level (constant in training) gets deviation 1, so it is only centred."""
    count, mean, squares = 0, np.zeros(parts[0].shape[1]), np.zeros(parts[0].shape[1])
    for n, part_mean, part_squares in (moments(p) for p in parts if len(p)):
        delta = part_mean - mean
        total = count + n
        mean = mean + delta * (n / total)
        squares = squares + part_squares + delta**2 * (count * n / total)
        count = total
    std = np.sqrt(squares / count)
    return mean, np.where(std > 1e-9 * np.maximum(1.0, np.abs(mean)), std, 1.0)


def standardise(parts: list[np.ndarray], *others: np.ndarray) -> list[np.ndarray]:
    """Every organisation's rows (``parts``), then ``others`` (the hold-outs), scaled by the consortium's
    :func:`consortium_scaling` of ``parts``."""
    mean, std = consortium_scaling(parts)
    return [(a - mean) / std for a in (*parts, *others)]


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
    rows = [train[groups[train] == index] for index in range(len(names))]
    for name, mine in zip(names, rows, strict=True):
        if len(mine) < 2:
            raise ConfigError(f"organisation {name!r} gets {len(mine)} training rows; it needs at least 2")
    *scaled, X_val, X_test = standardise([X[mine] for mine in rows], X[val], X[test])
    organisations = [
        Organisation(name, part, y[mine].astype(np.int64)) for name, part, mine in zip(names, scaled, rows, strict=True)
    ]
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
