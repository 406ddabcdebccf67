"""Shared ML primitives below federated, incentives and analytics: numpy models, safetensors weights, data helpers."""

from .data import DATASETS, load, partition_dirichlet, partition_iid, read_csv, split, write_csv
from .models import ARRAYS_SPEC, MLP, Model, SoftmaxRegression, build_model, describe_arrays
from .serialization import Weights, digest_of, flatten, from_bytes, to_bytes, unflatten

__all__ = [
    "ARRAYS_SPEC",
    "DATASETS",
    "MLP",
    "Model",
    "SoftmaxRegression",
    "Weights",
    "build_model",
    "describe_arrays",
    "digest_of",
    "flatten",
    "from_bytes",
    "load",
    "partition_dirichlet",
    "partition_iid",
    "read_csv",
    "split",
    "to_bytes",
    "unflatten",
    "write_csv",
]
