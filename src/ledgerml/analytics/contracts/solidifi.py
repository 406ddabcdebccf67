"""The SolidiFI benchmark as labelled data: its buggy contracts, each injected bug's lines and category, the
snippet template a bug came from, and the two splits (by contract number, and by held-out template)."""

from __future__ import annotations

import csv
import io
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..._files import read_bounded
from ...errors import NotFound
from .categories import SOLIDIFI

MAX_FILE = 4 << 20
TRAIN_CONTRACTS = range(1, 26)
"""buggy_1 .. buggy_25 of every bug type train; buggy_26 .. buggy_50 are the test split."""


@dataclass(frozen=True)
class Bug:
    """An injected bug: lines ``start`` .. ``end`` (1-based, inclusive), its category and snippet template."""

    start: int
    end: int
    category: str
    template: str


@dataclass(frozen=True)
class LabelledContract:
    """One SolidiFI contract: where it is, its bug-type folder, its number and its bugs."""

    path: Path
    folder: str
    number: int
    bugs: tuple[Bug, ...]

    @property
    def name(self) -> str:
        """``Folder/buggy_N.sol``."""
        return f"{self.folder}/{self.path.name}"


def data_root() -> Path:
    """``$LEDGERML_DATA/solidifi_benchmark`` or ``../shared/data/solidifi_benchmark``."""
    base = Path(os.environ.get("LEDGERML_DATA", "../shared/data"))
    return base / "solidifi_benchmark"


def template_key(snippet: str) -> str:
    """A bug's template: its snippet with every identifier suffix number and literal folded, whitespace removed."""
    folded = re.sub(r"\d+", "N", snippet)
    return format(zlib.crc32(re.sub(r"\s+", "", folded).encode()), "08x")


def held_out_template(template: str, parts: int = 4) -> bool:
    """Whether a template is in the held-out quarter (a fixed hash split, not a choice)."""
    return int(template, 16) % parts == 0


def load_contracts(root: Path | None = None) -> list[LabelledContract]:
    """Every buggy contract with its BugLog; ``NotFound`` when the benchmark is not there."""
    folder = (root or data_root()) / "buggy_contracts"
    if not folder.is_dir():
        raise NotFound(f"{folder} does not exist (set LEDGERML_DATA to the folder holding solidifi_benchmark)")
    found = []
    for bug_type in sorted(SOLIDIFI):
        for path in sorted((folder / bug_type).glob("buggy_*.sol"), key=lambda p: int(p.stem.split("_")[1])):
            number = int(path.stem.split("_")[1])
            found.append(LabelledContract(path, bug_type, number, tuple(_bugs(path, folder / bug_type, number))))
    return found


def _bugs(path: Path, folder: Path, number: int) -> Iterator[Bug]:
    lines = read_bounded(path, MAX_FILE).decode("utf-8", "replace").split("\n")
    log = read_bounded(folder / f"BugLog_{number}.csv", MAX_FILE).decode("utf-8", "replace")
    category = SOLIDIFI[folder.name]
    for row in csv.DictReader(io.StringIO(log)):
        start, length = int(row["loc"]), int(row["length"])
        snippet = "\n".join(lines[start - 1 : start - 1 + length])
        yield Bug(start, start + max(length, 1) - 1, category, template_key(snippet))


def split_by_contract(contracts: list[LabelledContract]) -> tuple[list[LabelledContract], list[LabelledContract]]:
    """(train, test): contract numbers 1-25 train, 26-50 test, in every bug type."""
    train = [c for c in contracts if c.number in TRAIN_CONTRACTS]
    return train, [c for c in contracts if c.number not in TRAIN_CONTRACTS]
