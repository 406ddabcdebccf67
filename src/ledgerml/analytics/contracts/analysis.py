"""One file's structural analysis: parse, read facts, run the rules, and build a feature row per unit."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .facts import annotate
from .features import feature_names, unit_vector
from .parse import Function, SourceModel, Unit, parse_source
from .rules import Context, RuleHit, build_context, run_rules


@dataclass
class FileAnalysis:
    """A parsed file's units (with their function, None for state initialisers), rule hits and feature rows."""

    model: SourceModel
    context: Context
    units: list[tuple[Unit, Function | None]]
    hits: list[RuleHit]
    features: np.ndarray


def analyse(source: bytes, minor: int | None) -> FileAnalysis:
    """Parse ``source`` (Solidity 0.``minor``) and run every structural detector over it."""
    model = parse_source(source)
    annotate(model)
    ctx = build_context(model, minor)
    hits = run_rules(ctx)
    by_unit: dict[int, list[RuleHit]] = {}
    for hit in hits:
        by_unit.setdefault(id(hit.unit), []).append(hit)
    units: list[tuple[Unit, Function | None]] = []
    rows = []
    for contract in model.contracts:
        if contract.kind == "interface":
            continue
        for unit in contract.state_units:
            units.append((unit, None))
            rows.append(unit_vector(unit, None, ctx, by_unit.get(id(unit), []), contract.kind, contract.uses_safemath))
        for function in contract.functions:
            for unit in function.units:
                units.append((unit, function))
                rows.append(
                    unit_vector(unit, function, ctx, by_unit.get(id(unit), []), contract.kind, contract.uses_safemath)
                )
    width = len(feature_names())
    features = np.vstack(rows) if rows else np.zeros((0, width))
    return FileAnalysis(model, ctx, units, hits, features)
