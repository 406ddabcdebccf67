"""Checks every update must pass before any rule sees it: same arrays, shapes and dtypes as the global
model, only finite values, and (if the task sets one) a bound on the L2 norm of its change."""

from __future__ import annotations

import numpy as np

from ..ml.serialization import Weights


def check_update(update: Weights, template: Weights, max_norm: float | None) -> str | None:
    """The reason to reject ``update``, or None if it is acceptable."""
    if set(update) != set(template):
        return f"wrong arrays: expected {sorted(template)}, got {sorted(update)}"
    for name in sorted(template):
        if update[name].shape != template[name].shape:
            return f"wrong shape for {name}: {update[name].shape} instead of {template[name].shape}"
        if update[name].dtype != template[name].dtype:
            return f"wrong dtype for {name}: {update[name].dtype} instead of {template[name].dtype}"
        if not np.all(np.isfinite(update[name])):
            return f"non-finite values in {name}"
    if max_norm is not None:
        norm = float(np.sqrt(sum(float(((update[n].astype(np.float64) - template[n]) ** 2).sum()) for n in template)))
        if norm > max_norm:
            return f"update norm {norm:.4g} exceeds the bound {max_norm:.4g}"
    return None
