"""Compatibility path: weight serialization lives in :mod:`ledgerml.ml.serialization`."""

from ..ml.serialization import Weights, digest_of, flatten, from_bytes, to_bytes, unflatten

__all__ = ["Weights", "digest_of", "flatten", "from_bytes", "to_bytes", "unflatten"]
