"""The root command table: lazy loading keeps start-up light, and the table's help lines match the commands."""

from __future__ import annotations

import subprocess
import sys

import typer.main

from ledgerml import __version__
from ledgerml.cli import COMMANDS, app
from ledgerml.cli._lazy import _module_exists

from .._cli import run_cli

HEAVY = ("eth_account", "numpy", "pandas", "sklearn", "flwr", "web3", "ledgerml.identity", "ledgerml.vocab")


def test_help_imports_no_command_module_and_no_heavy_library() -> None:
    code = (
        "import sys; sys.argv = ['ledgerml', '--help']\n"
        "from ledgerml.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in sys.modules if m.startswith({HEAVY!r}) or m.startswith('ledgerml.cli.')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip().splitlines()[-1] == "['ledgerml.cli._lazy']"


def test_table_help_lines_are_the_commands_own() -> None:
    root = typer.main.get_command(app)
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        assert command.get_short_help_str(500) == COMMANDS[name].help, f"update COMMANDS[{name!r}].help"


def test_every_listed_command_loads() -> None:
    root = typer.main.get_command(app)
    available = {name for name, entry in COMMANDS.items() if _module_exists(entry.target)}
    assert set(root.commands) == available  # type: ignore[attr-defined]


def test_version() -> None:
    result = run_cli("--version")
    assert result.code == 0 and result.out.strip() == f"ledgerml {__version__}"


def test_a_typo_gets_one_suggestion() -> None:
    result = run_cli("chian")
    assert result.code == 2
    assert result.err.count("Did you mean") == 1 and "'chain'" in result.err
    nested = run_cli("chain", "sael")
    assert nested.code == 2 and nested.err.count("Did you mean") == 1 and "'seal'" in nested.err


def test_every_lazy_public_name_resolves_and_is_exported() -> None:
    import ledgerml

    assert set(ledgerml.__all__) == {"__version__", *ledgerml._LAZY, *ledgerml.errors.__all__}
    for name in ledgerml._LAZY:
        assert getattr(ledgerml, name) is not None


def test_every_extra_the_code_names_is_declared_and_in_all() -> None:
    import tomllib
    from pathlib import Path

    from ledgerml._extras import EXTRAS

    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["project"]
    declared = project["optional-dependencies"]
    assert set(EXTRAS) <= set(declared)
    (everything,) = declared["all"]
    assert set(everything.removeprefix("ledgerml[").removesuffix("]").split(",")) == set(EXTRAS)


def test_serve_without_its_extra_is_one_line(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "fastapi" else real(name, *a))
    result = run_cli("serve", "--home", str(tmp_path / "nowhere"), "--port", "0")
    assert result.code == 2 and result.err.strip().endswith("pip install 'ledgerml[service]'"), result.err
