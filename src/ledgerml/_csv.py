"""CSV text to rows, with one clear error for text the csv module cannot split: the readers of users' files share it."""

from __future__ import annotations

import csv
import io

from .errors import ConfigError


def csv_rows(text: str, where: str) -> list[list[str]]:
    """The non-empty rows of CSV ``text``; ``ConfigError`` naming ``where`` when the csv module refuses it."""
    try:
        return [row for row in csv.reader(io.StringIO(text, newline="")) if row]
    except csv.Error as exc:
        raise ConfigError(f"{where} is not a readable CSV file: {exc}") from None


def csv_records(text: str, where: str) -> tuple[list[str], list[dict[str, str]]]:
    """The header and the rows (by column name) of CSV ``text``; ``ConfigError`` as :func:`csv_rows`."""
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = list(reader.fieldnames or [])
        return header, list(reader)
    except csv.Error as exc:
        raise ConfigError(f"{where} is not a readable CSV file: {exc}") from None


__all__ = ["csv_records", "csv_rows"]
