"""Training rows from labelled contracts: every unit gets the category of an injected bug it overlaps, or "none"."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from ..._files import read_bounded
from .analysis import analyse
from .compilers import UnknownPragma, choose_compiler
from .features import feature_names
from .gates import plausible
from .model import ContractModel
from .solidifi import MAX_FILE, Bug, LabelledContract


def file_minor(source: bytes) -> int | None:
    """The 0.x language line a file's pragmas ask for (None when they cannot be read)."""
    from .parse import parse_source

    pragmas = [p for p in parse_source(source).pragmas if "solidity" in p]
    try:
        return choose_compiler(pragmas).minor
    except UnknownPragma:
        return None


def label_units(
    units: Iterable[tuple[int, int]], bugs: tuple[Bug, ...], skip: Callable[[Bug], bool]
) -> list[str | None]:
    """Each unit's class: the category of the first bug it overlaps, None (drop) when that bug is skipped."""
    labels: list[str | None] = []
    for start, end in units:
        hit = next((b for b in bugs if start <= b.end and end >= b.start), None)
        labels.append("none" if hit is None else None if skip(hit) else hit.category)
    return labels


def training_rows(
    contracts: Iterable[LabelledContract], skip: Callable[[Bug], bool] = lambda bug: False
) -> tuple[np.ndarray, list[str]]:
    """Feature rows and labels of every unit of ``contracts`` (units of skipped bugs are left out)."""
    rows, labels = [], []
    for contract in contracts:
        source = read_bounded(contract.path, MAX_FILE)
        analysis = analyse(source, file_minor(source))
        spans = [(u.start_line, u.end_line) for u, _ in analysis.units]
        for i, label in enumerate(label_units(spans, contract.bugs, skip)):
            unit, function = analysis.units[i]
            if label not in (None, "none") and not plausible(label, unit, function, analysis.context):
                continue  # inside an injected snippet, but not a statement that can be the bug
            if label is not None:
                rows.append(analysis.features[i])
                labels.append(label)
    width = len(feature_names())
    return (np.vstack(rows) if rows else np.zeros((0, width))), labels


def train_model(
    contracts: Iterable[LabelledContract], skip: Callable[[Bug], bool] = lambda bug: False, **params: object
) -> ContractModel:
    """Fit a ``ContractModel`` on the units of ``contracts``."""
    features, labels = training_rows(contracts, skip)
    return ContractModel(**params).fit(features, labels)  # type: ignore[arg-type]
