"""A ``Deltas`` source over decoded updates in memory: each column block is read from the updates' own arrays
(widened to float64, minus the global model) when a rule asks for it, so a round never builds the n x d
matrix of deltas (at 10 clients x 10 M parameters that matrix is 800 MB written once and read once more)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import ConfigError
from ..ml.serialization import Weights, flatten


class DeltaReader:
    """The rules' ``Deltas`` interface over a source that reads update ``i``'s values ``lo:hi`` into a float64
    buffer (``_read``): column blocks and rows minus ``base``, the same bits however the values are held."""

    base: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """``(updates, parameters)``."""
        raise NotImplementedError

    def _read(self, i: int, lo: int, hi: int, out: np.ndarray) -> None:
        raise NotImplementedError

    def columns(self, lo: int, hi: int) -> np.ndarray:
        """Columns ``lo:hi`` of every delta, a new ``(n, hi - lo)`` float64 array."""
        block = np.empty((self.shape[0], hi - lo), dtype=np.float64)
        for i in range(self.shape[0]):
            self._read(i, lo, hi, block[i])
        np.subtract(block, self.base[lo:hi], out=block)
        return block

    def row(self, i: int) -> np.ndarray:
        """Delta ``i`` whole, float64."""
        values = np.empty(self.base.size, dtype=np.float64)
        self._read(i, 0, self.base.size, values)
        np.subtract(values, self.base, out=values)
        return values


class WeightsDeltas(DeltaReader):
    """Rows ``flatten(update) - flatten(template)`` of ``updates`` (same names and sizes as ``template``), read
    by column block or by row, the same bits as the stacked matrix."""

    def __init__(self, template: Weights, updates: Sequence[Weights]) -> None:
        names = sorted(template)
        self.base = flatten(template)
        self._segments: list[tuple[int, int]] = []
        start = 0
        for name in names:
            self._segments.append((start, int(template[name].size)))
            start += int(template[name].size)
        self._flat: list[list[np.ndarray]] = []
        for update in updates:
            arrays = [np.asarray(update[name]).reshape(-1) for name in names]
            if [a.size for a in arrays] != [size for _, size in self._segments]:
                raise ConfigError("an update does not have the global model's array sizes")
            self._flat.append(arrays)

    @property
    def shape(self) -> tuple[int, int]:
        """``(updates, parameters)``."""
        return len(self._flat), int(self.base.size)

    def _read(self, i: int, lo: int, hi: int, out: np.ndarray) -> None:
        """Values ``lo:hi`` of update ``i``, widened to float64 into ``out``."""
        for (start, size), array in zip(self._segments, self._flat[i], strict=True):
            a, b = max(lo, start), min(hi, start + size)
            if a < b:
                out[a - lo : b - lo] = array[a - start : b - start]
