"""Every reader of a user's CSV file turns what the csv module refuses into one ConfigError naming the file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ledgerml._csv import csv_records, csv_rows
from ledgerml.analytics.chainwatch.ingest import _rows
from ledgerml.analytics.fees.blocks import read_blocks_csv
from ledgerml.analytics.fees.daily import read_export
from ledgerml.consensus.traces import mainnet_trace
from ledgerml.errors import ConfigError
from ledgerml.scenarios.tables import read_rows

READERS: dict[str, Callable[[Path], Any]] = {
    "gas blocks": read_blocks_csv,
    "gas daily export": read_export,
    "consensus trace": mainnet_trace,
    "scenario table": read_rows,
    "chain activity": _rows,
}
OVERLONG = "number,gas_used,gas_limit,timestamp,transactions\n" + "x" * 200_000 + "\n"  # past the field limit


@pytest.mark.parametrize("reader", sorted(READERS))
def test_a_file_the_csv_module_refuses_is_one_config_error(reader: str, tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text(OVERLONG)
    with pytest.raises(ConfigError, match=r"data.csv is not a readable CSV file: field larger than field limit") as e:
        READERS[reader](path)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("reader", sorted(READERS))
def test_bytes_with_bare_carriage_returns_are_a_config_error_not_a_crash(reader: str, tmp_path: Path) -> None:
    """What the command-tree fuzzer found ('gas blocks --file' on random bytes: csv.Error, exit 70)."""
    path = tmp_path / "binary.bin"
    path.write_bytes(b"number,gas_used\rgas_limit\x00,\r\n1,\r2\x003\n" + bytes(range(256)))
    with pytest.raises(ConfigError):
        READERS[reader](path)


def test_rows_and_records_split_lines_as_the_csv_module_documents() -> None:
    """newline='' semantics: CRLF and bare CR end rows; a quoted field keeps its newline."""
    assert csv_rows('a,b\r\n1,"x\ny"\r3,4\n\n', "t") == [["a", "b"], ["1", "x\ny"], ["3", "4"]]
    assert csv_records("a,b\r\n1,2\n", "t") == (["a", "b"], [{"a": "1", "b": "2"}])
    assert csv_records("", "t") == ([], [])
