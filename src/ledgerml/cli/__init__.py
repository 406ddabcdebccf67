"""The ``ledgerml`` command line: one module per command group; errors map to exit codes."""

from __future__ import annotations

import errno
import os
import sqlite3
import sys

import click
import typer
from rich.markup import escape

from .. import __version__
from ..errors import LedgerMLError
from ._lazy import Entry, LazyGroup

COMMANDS: dict[str, Entry] = {
    "init": Entry(
        "ledgerml.cli.init:init",
        "Create a ledger home: ledger.db, keys/ and artifacts/, with the creator as admin and validator.",
    ),
    "demo": Entry(
        "ledgerml.cli.demo:demo",
        "Run the federated scenario end to end in a fresh ledger home (temporary unless --home is given).",
    ),
    "identity": Entry("ledgerml.cli.identity:app", "Create and inspect identities (secp256k1 keys, V3 keystores)."),
    "role": Entry("ledgerml.cli.role:app", "Grant and revoke roles (admin only)."),
    "chain": Entry("ledgerml.cli.chain:app", "Append events, inspect the log and blocks, make and check proofs."),
    "data": Entry("ledgerml.cli.data:app", "Register datasets, show them, prove single records."),
    "model": Entry("ledgerml.cli.model:app", "Register models with lineage, show lineage, write attestations."),
    "verify": Entry(
        "ledgerml.cli.verify:app", "Audit the whole ledger (no subcommand), or verify a model or dataset against it."
    ),
    "fl": Entry("ledgerml.cli.fl:app", "Run federated training recorded on the ledger; list tasks."),
    "audit": Entry("ledgerml.cli.audit:app", "Audit federated tasks by replaying their rounds."),
    "rewards": Entry("ledgerml.cli.rewards:rewards_app", "Contributions, rewards and slashes of federated tasks."),
    "token": Entry("ledgerml.cli.rewards:token_app", "The reward token: balances, transfers, minting (admin)."),
    "governance": Entry(
        "ledgerml.cli.governance:app", "k-of-n approval of consortium-wide actions: policy, proposals, approvals."
    ),
    "fraud": Entry("ledgerml.cli.fraud:app", "Fraud detection on Ethereum accounts."),
    "contracts": Entry("ledgerml.cli.contracts:app", "Scan Solidity contracts for vulnerabilities."),
    "gas": Entry("ledgerml.cli.gas:app", "Forecast gas prices and recommend fees."),
    "consensus": Entry("ledgerml.cli.consensus:app", "Tune consensus parameters: block cutting and QBFT timeouts."),
    "node": Entry("ledgerml.cli.node:app", "A local Ethereum node (anvil 1.7.1 from npm) for anchoring and tests."),
    "anchor": Entry(
        "ledgerml.cli.node:anchor",
        "Write the ledger's latest signed block header to an EVM chain; 'ledgerml verify' checks it later.",
    ),
    "serve": Entry("ledgerml.cli.serve:serve", "Serve the ledger over HTTP: the API under /api, the dashboard at /."),
    "remote": Entry("ledgerml.cli.remote:app", "Read and append to a ledger served by 'ledgerml serve'."),
    "witness": Entry("ledgerml.cli.witness:app", "Run a checkpoint witness, or trust one."),
    "checkpoint": Entry(
        "ledgerml.cli.checkpoint:app", "Publish signed checkpoints to witnesses and collect their cosignatures."
    ),
    "scenario": Entry("ledgerml.cli.scenario:app", "Run the application-domain scenarios on real data."),
    "monitor": Entry("ledgerml.cli.monitor:app", "Watch federations and chains for attacks; raise signed alerts."),
    "alerts": Entry("ledgerml.cli.alerts:app", "List and show signed alerts with their explanations."),
}
"""Every top-level command: where it lives and the help line ``ledgerml --help`` shows without importing it."""


class _Root(LazyGroup):
    table = COMMANDS


app = typer.Typer(
    name="ledgerml",
    cls=_Root,
    help="Verifiable multi-party machine learning on a ledger.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"ledgerml {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Verifiable multi-party machine learning on a ledger."""


USAGE_EXIT = 2
"""Exit code of a command-line usage mistake (an unknown option, a value of the wrong type): click's."""
STORAGE_EXIT = 6
"""Exit code of a file that cannot be read or written (``errors.StorageError``)."""
DAMAGED_EXIT = 31
"""Exit code of a ledger file SQLite cannot read (``errors.TamperDetected``)."""
INTERNAL_EXIT = 70
"""Exit code of a bug: an exception no ledgerml error class covers (the suite asserts no input reaches it)."""


def _fail(message: str, code: int) -> None:
    from ._common import err_console  # here, not at the top: it loads the ledger home code

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


__all__ = ["COMMANDS", "app", "main"]
