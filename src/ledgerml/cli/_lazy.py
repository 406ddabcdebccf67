"""The root command group: subcommands load their module only when they run, so ``ledgerml --help`` starts fast."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, NamedTuple

import click
import typer
import typer.main
from typer.core import TyperGroup


class Entry(NamedTuple):
    """Where a top-level command lives (``"module:attribute"``, a Typer app or a command function) and its help."""

    target: str
    help: str


_LISTING = "ledgerml.listing"


def _module_exists(target: str) -> bool:
    module = target.partition(":")[0]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _no_suggestions(command: click.Command) -> click.Command:
    """Turn off typer's own "Did you mean" (click already adds one, so users saw it twice)."""
    if isinstance(command, TyperGroup):
        command.suggest_commands = False
        for sub in command.commands.values():
            _no_suggestions(sub)
    return command


def load(name: str, entry: Entry) -> click.Command:
    """Import the command ``entry`` names and turn it into a click command called ``name``."""
    module_name, _, attribute = entry.target.partition(":")
    target = getattr(importlib.import_module(module_name), attribute)
    command: click.Command
    if isinstance(target, typer.Typer):
        command = typer.main.get_group(target)
    else:
        holder = typer.Typer(add_completion=False)
        holder.command(name)(target)
        command = typer.main.get_command(holder)
    command.name = name
    return _no_suggestions(command)


class LazyGroup(TyperGroup):
    """A typer group whose subcommands come from a table and are imported on first use.

    Listing them in ``--help`` uses the table's help text (no import); anything that walks ``commands`` (the test
    suite's command-tree checks) loads every one.
    """

    table: Mapping[str, Entry] = {}

    def __init__(self, **attrs: Any) -> None:
        self._loaded: dict[str, click.Command] = {}
        super().__init__(**attrs)
        self.suggest_commands = False

    @property
    def commands(self) -> dict[str, click.Command]:
        """Every subcommand, loaded."""
        for name in self._available():
            self._get(name)
        return self._loaded

    @commands.setter
    def commands(self, value: Mapping[str, click.Command]) -> None:
        self._loaded.update(value)

    def _has(self, name: str) -> bool:
        return name in self.table and (name in self._loaded or _module_exists(self.table[name].target))

    def _available(self) -> Iterator[str]:
        return (name for name in self.table if self._has(name))

    def _get(self, name: str) -> click.Command:
        if name not in self._loaded:
            self._loaded[name] = load(name, self.table[name])
        return self._loaded[name]

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self._available())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if not self._has(cmd_name):
            return None
        if ctx.meta.get(_LISTING) and cmd_name not in self._loaded:
            return click.Command(cmd_name, help=self.table[cmd_name].help)
        return self._get(cmd_name)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with _listing(ctx):
            super().format_help(ctx, formatter)


@contextmanager
def _listing(ctx: click.Context) -> Iterator[None]:
    ctx.meta[_LISTING] = True
    try:
        yield
    finally:
        ctx.meta.pop(_LISTING, None)


__all__ = ["Entry", "LazyGroup", "load"]
