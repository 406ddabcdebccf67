"""Each organisation's local data as a CSV it registers (its fingerprint and record count go on the ledger)."""

import csv
import sys

from quickstart_ledger.task import load_data

partition, path = int(sys.argv[1]), sys.argv[2]
X, y = load_data(partition)
with open(path, "w", newline="") as handle:
    writer = csv.writer(handle)
    writer.writerow(["x0", "x1", "x2", "y"])
    writer.writerows([[*map(repr, map(float, row)), repr(float(t))] for row, t in zip(X, y[:, 0], strict=True)])
