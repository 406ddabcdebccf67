"""Compatibility path: the data helpers live in :mod:`ledgerml.ml.data`."""

from ..ml.data import DATASETS, load, partition_dirichlet, partition_iid, read_csv, split, write_csv

__all__ = ["DATASETS", "load", "partition_dirichlet", "partition_iid", "read_csv", "split", "write_csv"]
