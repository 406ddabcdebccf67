"""Shared CLI plumbing: common options, JSON or rich output, passwords, progress bars."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .._files import check_writable, read_bounded, replace_atomically
from .._json import loads_bounded
from ..errors import KeystoreError, StorageError
from ..home import Home
from ..identity import password_from_env

console = Console()
err_console = Console(stderr=True)

HomeOption = Annotated[
    str | None,
    typer.Option("--home", envvar="LEDGERML_HOME", help="Ledger home folder \\[default: ./.ledgerml]."),
]
JsonOption = Annotated[
    bool,
    typer.Option(
        "--json", help="Print machine-readable JSON (commands whose output is a JSON document print it either way)."
    ),
]
AsOption = Annotated[
    str | None, typer.Option("--as", help="Identity to act as \\[default: the home's default identity].")
]


def home_of(home: str | None) -> Home:
    """The ledger home named by ``--home`` / ``LEDGERML_HOME`` / default."""
    return Home.resolve(home)


def emit_json(data: Any) -> None:
    """Print JSON data to stdout."""
    typer.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    """Print a rich table."""
    out = Table(title=title, show_lines=False)
    for column in columns:
        out.add_column(column)
    for row in rows:
        out.add_row(*[str(cell) for cell in row])
    console.print(out)


def read_proof_file(path: Path, trust: list[str] | None) -> tuple[Any, set[str] | None]:
    """A proof document from ``path`` and the trusted validator set from ``--trust`` options."""
    from ..errors import InvalidProof
    from ..types import to_address

    try:
        raw = read_input(path, max_bytes=MAX_PROOF_BYTES)
        data = loads_bounded(raw, what=str(path), max_bytes=MAX_PROOF_BYTES, max_depth=16, error=InvalidProof)
    except InvalidProof:
        raise
    except ValueError as exc:
        raise InvalidProof(f"{path} is not JSON: {exc}") from None
    return data, ({to_address(a) for a in trust} if trust else None)


MAX_PROOF_BYTES = 1 << 20
"""Largest proof file read (a proof is an event, a few dozen hashes and one or two headers)."""
MAX_INPUT_BYTES = 256 << 20
"""Largest input file a command reads whole (batches of events)."""


def read_input(path: Path, *, max_bytes: int = MAX_INPUT_BYTES, text: bool = False) -> bytes:
    """An input file's bytes: ``NotFound`` if missing or a folder, ``MalformedEvent`` if too large (or, with
    ``text``, not UTF-8)."""
    from ..errors import MalformedEvent, NotFound

    raw = read_bounded(path, max_bytes, error=MalformedEvent, unreadable=NotFound)
    if text:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedEvent(f"{path} is not UTF-8 text (byte {exc.start})") from None
    return raw


def write_json(data: Any, out: Path | None, *, jsonl: bool = False) -> None:
    """Print JSON (one line for ``jsonl``) to stdout or write it to ``out``."""
    text = (
        json.dumps(data, sort_keys=True, separators=(",", ":")) if jsonl else json.dumps(data, indent=2, sort_keys=True)
    ) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        write_output(out, text.encode())
        console.print(f"wrote {out}")


def check_out(out: Path | None, option: str = "--out") -> None:
    """Refuse an output path that cannot be written (missing folder, a folder) before any work is done."""
    if out is not None:
        check_writable(out, option)


def write_output(out: Path, data: bytes, option: str = "--out") -> None:
    """Write an ``--out`` file whole or not at all (temporary file + rename); ``StorageError`` says why not."""
    check_out(out, option)
    try:
        replace_atomically(out, data)
    except OSError as exc:
        raise StorageError(f"cannot write {option} {out}: {exc.strerror or exc}") from None


def ask_password(confirm: bool, purpose: str) -> str:
    """The keystore password: ``LEDGERML_PASSWORD`` or an interactive prompt."""
    from_env = password_from_env()
    if from_env:
        return from_env
    if not sys.stdin.isatty() and not os.environ.get("LEDGERML_FORCE_PROMPT"):
        raise KeystoreError(f"no password for {purpose}: set LEDGERML_PASSWORD (no terminal to prompt on)")
    password: str = typer.prompt(f"Password for {purpose}", hide_input=True, confirmation_prompt=confirm)
    if not password:
        raise KeystoreError("the password must not be empty")
    return password


@contextmanager
def progress_bar(description: str, enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on stderr; yields ``update(done, total)``. Silent when disabled or not a TTY."""
    if not enabled or not err_console.is_terminal:
        yield lambda done, total: None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Show Flower's INFO log (quiet by default).")]
LogLevelOption = Annotated[
    str | None,
    typer.Option(
        "--log-level",
        help="Flower's log level: DEBUG, INFO, WARNING, ERROR \\[default: ERROR, or INFO with --verbose, or "
        "FLWR_LOG_LEVEL].",
    ),
]


def quiet_flower(verbose: bool = False, level: str | None = None) -> str:
    """Set Flower's log level for this process and the engines it starts (``FLWR_LOG_LEVEL``): ERROR unless
    ``--verbose`` (INFO), ``--log-level`` or the variable itself says otherwise. Returns the level."""
    from ..errors import ConfigError

    chosen = (level or ("INFO" if verbose else os.environ.get("FLWR_LOG_LEVEL") or "ERROR")).upper()
    if chosen not in LOG_LEVELS:
        raise ConfigError(f"--log-level must be one of {', '.join(LOG_LEVELS)}, not {level!r}")
    os.environ["FLWR_LOG_LEVEL"] = chosen
    if chosen not in ("DEBUG", "INFO"):  # Ray's start-up tip about GPU variables (we ask for no GPU): opt in, quiet
        os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    flower_logger = sys.modules.get("flwr.supercore.logger")
    if flower_logger is not None:  # imported already: its handler read the variable at import time
        flower_logger.update_console_handler(level=chosen, timestamps=chosen == "DEBUG", colored=True)
    return chosen


class StageProgress:
    """A rich progress line on stderr that names the current stage (a spinner with elapsed time) and, while
    training, counts rounds. Silent when disabled or not a terminal."""

    def __init__(self, rounds: int, enabled: bool) -> None:
        self.rounds, self.enabled = rounds, enabled and err_console.is_terminal
        self._progress: Progress | None = None
        self._task: Any = None

    def __enter__(self) -> StageProgress:
        if self.enabled:
            from rich.progress import SpinnerColumn

            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err_console,
                transient=True,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task("starting", total=None)
        return self

    def stage(self, name: str) -> None:
        """Show ``name``; the bar counts rounds while training."""
        if self._progress is not None:
            total = self.rounds if name == "training" else None
            self._progress.reset(self._task, total=total, description=name)

    def round_done(self, outcome: object) -> None:
        """One more round finalized."""
        if self._progress is not None:
            self._progress.advance(self._task)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(None, None, None)
