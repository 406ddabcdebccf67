"""Grouping helpers over parallel integer columns (no pandas): distinct rows."""

from __future__ import annotations

import numpy as np


def distinct_rows(*columns: np.ndarray) -> np.ndarray:
    """Indices of the first occurrence of each distinct row of ``columns``, sorted by the columns (last first)."""
    order = np.lexsort(columns[::-1])
    if len(order) == 0:
        return order
    stacked = np.stack([c[order] for c in columns], axis=1)
    change = np.ones(len(order), dtype=bool)
    change[1:] = np.any(stacked[1:] != stacked[:-1], axis=1)
    return order[change]
