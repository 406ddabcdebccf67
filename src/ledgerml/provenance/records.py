"""Record-level Merkle roots over tabular files (CSV, TSV, Parquet) and single-record proofs.

Each data row (header excluded, blank lines skipped) becomes one leaf: the RFC 9162 leaf hash of the row's
canonical JSON array of values (CSV/TSV: the field strings exactly as parsed; Parquet: typed values, with
dates as ISO strings, bytes as ``0x`` hex, non-finite floats as ``"NaN"``/``"Infinity"``/``"-Infinity"``).
The root is the RFC 9162 Merkle root of the leaves in file order. Large CSV files are hashed by several
processes, split at newlines outside quoted fields.
"""

from __future__ import annotations

import csv
import ctypes
import io
import json
import math
import os
import re
import signal
import sys
import threading
import time as time_module
from concurrent.futures import ProcessPoolExecutor
from datetime import date, datetime, time
from decimal import Decimal
from hashlib import sha256
from pathlib import Path
from typing import Any

from ..errors import ConfigError, MalformedEvent
from ..ledger.merkle import EMPTY_ROOT, MerkleTree

LEAF_ENCODING = "json-array/v1"
TABULAR_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet"}
_PARALLEL_MIN_BYTES = 8 << 20
_BLOCK = 4 << 20
_PARENT_POLL_SECONDS = 0.2
"""How often a hashing worker checks that the process that started it is still alive (where prctl is missing)."""
_PR_SET_PDEATHSIG = 1
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def tabular_format(path: str | os.PathLike[str]) -> str | None:
    """``csv``, ``tsv`` or ``parquet`` by file suffix, else None."""
    return TABULAR_SUFFIXES.get(Path(path).suffix.lower())


def _normalise(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _normalise(v) for k, v in value.items()}
    return value


def row_leaf(values: list[Any]) -> bytes:
    """The leaf hash of one record."""
    try:
        encoded = _encode(values)
    except (TypeError, ValueError):
        encoded = _encode(_normalise(values))
    return sha256(b"\x00" + encoded.encode("utf-8")).digest()


def merkle_root(leaves: list[bytes]) -> bytes:
    """RFC 9162 root of ``leaves``, built level by level (the last odd node moves up unchanged)."""
    if not leaves:
        return EMPTY_ROOT
    level = leaves
    while len(level) > 1:
        paired = [sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def _delimiter(fmt: str) -> str:
    return "\t" if fmt == "tsv" else ","


def _needs_csv_module(delimiter: str) -> re.Pattern[str]:
    """Characters that make the simple split unsafe: quotes, backslashes, control characters (but the
    delimiter and newline), which CSV quoting or JSON escaping would change."""
    controls = "".join(chr(c) for c in range(32) if chr(c) not in ("\n", delimiter))
    return re.compile("[" + re.escape(controls + '"\\') + "]")


_SPECIAL = {",": _needs_csv_module(","), "\t": _needs_csv_module("\t")}


def _csv_leaves_of_text(text: str, delimiter: str) -> list[bytes]:
    if not _SPECIAL[delimiter].search(text):
        # Fast path, same result: without quotes, escapes or control characters every line splits on the
        # delimiter and its canonical JSON array is the line with each delimiter replaced by '","'.
        separator = '","'
        return [
            sha256(('\x00["' + line.replace(delimiter, separator) + '"]').encode("utf-8")).digest()
            for line in text.split("\n")
            if line
        ]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    return [sha256(b"\x00" + _encode(row).encode("utf-8")).digest() for row in reader if row]


def _die_with_parent(parent: int) -> None:
    """Worker initializer: end this worker as soon as the process that started it dies (even by ``kill -9``).

    On Linux the kernel does it (``prctl(PR_SET_PDEATHSIG, SIGKILL)``); everywhere a daemon thread also polls
    the parent pid, so an orphaned worker never outlives its parent by more than a poll interval.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - no prctl: the thread below still applies
            pass
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)

    def watch() -> None:
        while True:
            time_module.sleep(_PARENT_POLL_SECONDS)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="ledgerml-parent-watch", daemon=True).start()


def _csv_chunk(path: str, start: int, end: int, delimiter: str) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(start)
        raw = handle.read(end - start)
    return b"".join(_csv_leaves_of_text(raw.decode("utf-8"), delimiter))


def _header_end(path: str) -> int:
    """Byte offset just after the header record (a newline outside quotes)."""
    quotes = 0
    offset = 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 16):
            start = 0
            while (newline := block.find(b"\n", start)) >= 0:
                if (quotes + block.count(b'"', 0, newline)) % 2 == 0:
                    return offset + newline + 1
                start = newline + 1
            quotes += block.count(b'"')
            offset += len(block)
    return offset


def _split_points(path: str, begin: int, size: int, parts: int) -> list[int]:
    """Chunk boundaries after ``begin``: each at a newline with an even number of quotes before it."""
    targets = [begin + (size - begin) * k // parts for k in range(1, parts)]
    points: list[int] = []
    quotes = 0
    offset = 0
    with open(path, "rb") as handle:
        while targets and (block := handle.read(_BLOCK)):
            search = max(0, targets[0] - offset)
            while targets and search < len(block):
                newline = block.find(b"\n", search)
                if newline < 0:
                    break
                if (quotes + block.count(b'"', 0, newline)) % 2 == 0:
                    points.append(offset + newline + 1)
                    targets.pop(0)
                    search = max(newline + 1, targets[0] - offset) if targets else len(block)
                else:
                    search = newline + 1
            quotes += block.count(b'"')
            offset += len(block)
    return [begin, *sorted(set(points)), size]


def csv_columns(path: str | os.PathLike[str], fmt: str = "csv") -> list[str]:
    """The header row of a CSV/TSV file."""
    with open(path, newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle, delimiter=_delimiter(fmt), strict=True), None)
    if header is None:
        raise ConfigError(f"{path} is empty: a tabular file needs a header row")
    return header


def table_leaves(path: str | os.PathLike[str], fmt: str, workers: int | None = None) -> tuple[list[str], list[bytes]]:
    """Columns and record leaves of a tabular file, in file order."""
    try:
        if fmt == "parquet":
            return _parquet_leaves(path)
        columns = csv_columns(path, fmt)
        name = os.fspath(path)
        size = os.path.getsize(name)
        begin = _header_end(name)
        workers = workers if workers is not None else min(4, os.cpu_count() or 1)
        if workers <= 1 or size - begin < _PARALLEL_MIN_BYTES:
            blob = _csv_chunk(name, begin, size, _delimiter(fmt))
        else:
            points = _split_points(name, begin, size, workers)
            with ProcessPoolExecutor(
                max_workers=workers, initializer=_die_with_parent, initargs=(os.getpid(),)
            ) as pool:
                parts = pool.map(
                    _csv_chunk,
                    [name] * (len(points) - 1),
                    points[:-1],
                    points[1:],
                    [_delimiter(fmt)] * (len(points) - 1),
                )
                blob = b"".join(parts)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"{path} is not a well-formed UTF-8 {fmt.upper()} file: {exc}") from None
    return columns, [blob[i : i + 32] for i in range(0, len(blob), 32)]


def _parquet_leaves(path: str | os.PathLike[str]) -> tuple[list[str], list[bytes]]:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ConfigError("Parquet fingerprints need pyarrow: pip install 'ledgerml[analytics]'") from exc
    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises its own error types
        raise ConfigError(f"{path} is not a readable Parquet file: {exc}") from None
    columns = list(parquet.schema_arrow.names)
    leaves: list[bytes] = []
    for batch in parquet.iter_batches(batch_size=65536):
        data = batch.to_pydict()
        leaves.extend(row_leaf(list(row)) for row in zip(*(data[c] for c in columns), strict=True))
    return columns, leaves


def read_record(path: str | os.PathLike[str], fmt: str, row: int) -> list[Any]:
    """The values of data row ``row`` (0-based, header excluded, blank lines skipped)."""
    if row < 0:
        raise ConfigError("row numbers start at 0")
    if fmt == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        if row >= table.num_rows:
            raise ConfigError(f"{path} has {table.num_rows} records; there is no row {row}")
        record = table.slice(row, 1).to_pylist()[0]
        return [_normalise(record[c]) for c in table.column_names]
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle, delimiter=_delimiter(fmt), strict=True)
        next(reader, None)
        index = 0
        for values in reader:
            if not values:
                continue
            if index == row:
                return values
            index += 1
    raise ConfigError(f"{path} has {index} records; there is no row {row}")


def record_path(leaves: list[bytes], row: int) -> list[bytes]:
    """The RFC 9162 audit path of record ``row``."""
    tree = MerkleTree()
    for leaf in leaves:
        tree.append(leaf)
    return tree.inclusion_path(row)


def check_values(values: Any) -> list[Any]:
    """Validate record values taken from a proof file."""
    if not isinstance(values, list):
        raise MalformedEvent("record values must be a JSON array")
    return values
