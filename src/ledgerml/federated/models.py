"""Compatibility path: the numpy models live in :mod:`ledgerml.ml.models`."""

from ..ml.models import MLP, Model, SoftmaxRegression, build_model

__all__ = ["MLP", "Model", "SoftmaxRegression", "build_model"]
