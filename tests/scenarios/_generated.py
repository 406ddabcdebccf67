"""Tiny generated data files in the layout of the real ones (the real data is not in CI)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ledgerml.scenarios import cybersecurity, finance

CREDIT_HEADER = ["ID", *finance.AMOUNTS[:1], "SEX", "EDUCATION", "MARRIAGE", "AGE", "PAY_0"]
CREDIT_HEADER += [f"PAY_{i}" for i in range(2, 7)] + [f"BILL_AMT{i}" for i in range(1, 7)]
CREDIT_HEADER += [f"PAY_AMT{i}" for i in range(1, 7)] + [finance.LABEL]


def credit_csv(root: Path, rows: int = 240, seed: int = 0) -> Path:
    """``domains/finance/UCI_Credit_Card.csv``: the real header, defaults driven by PAY_0, a missing AGE."""
    rng = np.random.default_rng(seed)
    path = root / finance.CREDIT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(CREDIT_HEADER)]
    for i in range(rows):
        pay0 = int(rng.integers(-2, 4))
        label = int(rng.random() < (0.7 if pay0 >= 2 else 0.15))
        education = [1, 2, 3, 0, 4][i % 5]
        values = [i + 1, int(rng.integers(1, 50)) * 10000, int(rng.integers(1, 3)), education, 1]
        values += ["nan" if i == 3 else int(rng.integers(21, 70)), pay0] + [int(rng.integers(-2, 3)) for _ in range(5)]
        values += [int(rng.integers(-1000, 90000)) for _ in range(6)] + [int(rng.integers(0, 9000)) for _ in range(6)]
        lines.append(",".join(str(v) for v in [*values, label]))
    path.write_text("\n".join(lines) + "\n")
    return path


SERVICES = ["http", "private", "domain_u", "smtp", "ftp_data", "telnet", "eco_i"]


def nsl_kdd_txt(root: Path, rows: int = 300, seed: int = 0) -> Path:
    """``domains/cybersecurity/KDDTrain+_20Percent.txt``: 43 columns, no header, attacks with high counts."""
    rng = np.random.default_rng(seed)
    path = root / cybersecurity.NSL_KDD_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(rows):
        attack = bool(i % 3 == 0) ^ bool(i % 7 == 0)
        service = SERVICES[i % len(SERVICES)]
        numbers = rng.random(38) + (1.5 if attack else 0.0) * (np.arange(38) % 4 == 0)
        values = [str(int(rng.integers(0, 5)))]
        values += [["tcp", "udp", "icmp"][i % 3], service, ["SF", "S0", "REJ"][int(attack) + (i % 2)]]
        values += [f"{v:.2f}" for v in numbers[:37]]
        values += ["neptune" if attack else "normal", str(int(rng.integers(0, 22)))]
        lines.append(",".join(values))
    path.write_text("\n".join(lines) + "\n")
    return path
