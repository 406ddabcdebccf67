"""Running the real ``ledgerml`` entry point in-process, and reading a home's ledger, for CLI tests."""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledgerml.cli import main


@dataclass
class Result:
    """What one command did: exit code and both output streams."""

    code: int
    out: str
    err: str

    def json(self) -> object:
        return json.loads(self.out)


def run_cli(*args: str) -> Result:
    """Run ``ledgerml ARGS`` through ``main()`` with stdout and stderr captured (no terminal, no prompt)."""
    out, err = io.StringIO(), io.StringIO()
    saved = sys.argv
    sys.argv = ["ledgerml", *args]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = saved
    return Result(code, out.getvalue(), err.getvalue())


def run_cli_in(home: Path, *args: str) -> Result:
    """:func:`run_cli` against ``home``: ``LEDGERML_HOME`` set for this call only, as it was afterwards."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LEDGERML_HOME", str(home))
        return run_cli(*args)


def error_lines(err: str) -> list[str]:
    """The lines of stderr that are not blank and not a warning (an unencrypted key's, say)."""
    return [line for line in err.splitlines() if line.strip() and not line.startswith("warning:")]


def one_error_line(err: str) -> bool:
    """True when stderr holds exactly one ``error:`` line and nothing that looks like a traceback."""
    lines = error_lines(err)
    return "Traceback" not in err and len(lines) == 1 and lines[0].startswith("error:")


def snapshot(home: Path) -> list[str]:
    """The whole ledger file as SQL text: equal snapshots, nothing changed."""
    conn = sqlite3.connect(home / "ledger.db")
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def event_count(home: Path) -> int:
    """Events in a home's SQLite ledger."""
    conn = sqlite3.connect(home / "ledger.db")
    try:
        return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
    finally:
        conn.close()


def error_classes() -> list[type]:
    """Every ``LedgerMLError`` class the package defines, its modules all imported first: a module the CLI
    imports lazily (``ledgerml.anchor``'s ``ChainUnreachable``) would otherwise be missing until something used it."""
    import importlib
    import pkgutil

    import ledgerml
    from ledgerml.errors import LedgerMLError

    for module in pkgutil.walk_packages(ledgerml.__path__, "ledgerml."):
        if not module.name.endswith("__main__"):  # running it is the CLI
            importlib.import_module(module.name)
    found, todo = [], [LedgerMLError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found
