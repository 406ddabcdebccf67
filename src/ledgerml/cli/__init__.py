"""The ``ledgerml`` command line: one module per command group; errors map to exit codes."""

from __future__ import annotations

import sys

import typer

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


def main() -> None:
    """Console entry point: run the app; a ledgerml error prints one line and exits with its code."""
    try:
        app()
    except LedgerMLError as exc:
        err_console.print(f"[bold red]error[/]: {exc}", highlight=False, markup=True)
        sys.exit(exc.exit_code)


__all__ = ["app", "main"]
