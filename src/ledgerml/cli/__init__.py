"""The ``ledgerml`` command line: one module per command group; errors map to exit codes."""

from __future__ import annotations

import errno
import os
import sqlite3
import sys

import click
import typer
from rich.markup import escape

from ..errors import LedgerMLError
from . import audit, chain, data, demo, fl, fraud, identity, init, model, node, rewards, role, verify
from ._common import err_console

app = typer.Typer(
    name="ledgerml",
    help="Verifiable multi-party machine learning on a ledger.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("init")(init.init)
app.command("demo")(demo.demo)
app.add_typer(identity.app, name="identity")
app.add_typer(role.app, name="role")
app.add_typer(chain.app, name="chain")
app.add_typer(data.app, name="data")
app.add_typer(model.app, name="model")
app.add_typer(verify.app, name="verify")
app.add_typer(fl.app, name="fl")
app.add_typer(audit.app, name="audit")
app.add_typer(rewards.rewards_app, name="rewards")
app.add_typer(rewards.token_app, name="token")
app.add_typer(fraud.app, name="fraud")
app.add_typer(node.app, name="node")
app.command("anchor")(node.anchor)

USAGE_EXIT = 2
"""Exit code of a command-line usage mistake (an unknown option, a value of the wrong type): click's."""
STORAGE_EXIT = 6
"""Exit code of a file that cannot be read or written (``errors.StorageError``)."""
DAMAGED_EXIT = 31
"""Exit code of a ledger file SQLite cannot read (``errors.TamperDetected``)."""
INTERNAL_EXIT = 70
"""Exit code of a bug: an exception no ledgerml error class covers (the suite asserts no input reaches it)."""


def _fail(message: str, code: int) -> None:
    err_console.print(f"[bold red]error[/]: {escape(message)}", highlight=False, markup=True, soft_wrap=True)
    sys.exit(code)


def _os_message(exc: OSError) -> str:
    reason = {errno.ENOSPC: "the disk is full", errno.EFBIG: "the file size limit was reached"}.get(
        exc.errno or 0, exc.strerror or str(exc)
    )
    where = f" ({exc.filename})" if exc.filename else ""
    return f"cannot read or write a file{where}: {reason}"


def main() -> None:
    """Console entry point: every failure prints one line and exits with its code; no traceback for a user's mistake.

    ledgerml's own errors carry their exit code; a usage mistake exits 2; an unreadable or unwritable file 6; a
    ledger file SQLite cannot read 31. Anything else is a bug: one line, exit 70 (``LEDGERML_DEBUG=1`` re-raises it).
    """
    debug = bool(os.environ.get("LEDGERML_DEBUG"))
    try:
        code = app(standalone_mode=False)
    except LedgerMLError as exc:
        _fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, exc.exit_code)
    except click.exceptions.NoArgsIsHelpError:  # pragma: no cover - depends on the click version
        sys.exit(USAGE_EXIT)
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        _fail(exc.format_message().replace("\n", " ") + hint, USAGE_EXIT)
    except click.ClickException as exc:
        _fail(exc.format_message().replace("\n", " "), exc.exit_code)
    except click.exceptions.Abort:
        _fail("aborted", 1)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except OSError as exc:
        if debug:
            raise
        _fail(_os_message(exc), STORAGE_EXIT)
    except sqlite3.DatabaseError as exc:
        if debug:
            raise
        _fail(f"the ledger file cannot be read ({exc}): it is damaged or not a ledgerml ledger", DAMAGED_EXIT)
    except Exception as exc:
        if debug:
            raise
        _fail(
            f"internal error {type(exc).__name__}: {exc} (a bug; LEDGERML_DEBUG=1 shows the traceback)", INTERNAL_EXIT
        )
    sys.exit(code if isinstance(code, int) else 0)


__all__ = ["app", "main"]
