"""Load a user's function named on the command line as ``MODULE:NAME`` or ``path/to/file.py:NAME``."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import ConfigError


def load_callable(reference: str, option: str) -> Callable[..., Any]:
    """The function ``reference`` names; a module is imported with the working directory on the path."""
    module_ref, colon, name = reference.rpartition(":")
    if not colon or not module_ref or not name.isidentifier():
        raise ConfigError(f"{option} takes MODULE:FUNCTION or FILE.py:FUNCTION, got {reference!r}")
    module = _from_file(Path(module_ref), option) if module_ref.endswith(".py") else _from_path(module_ref, option)
    found = getattr(module, name, None)
    if not callable(found):
        raise ConfigError(f"{option}: {module_ref} has no function {name!r}")
    return found  # type: ignore[no-any-return]


def _from_file(path: Path, option: str) -> Any:
    """A module loaded from a Python file."""
    if not path.is_file():
        raise ConfigError(f"{option}: {path} does not exist")
    spec = importlib.util.spec_from_file_location(f"_ledgerml_user_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{option}: {path} is not a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's module failing to import is their error, said in one line
        raise ConfigError(f"{option}: importing {path} failed: {type(exc).__name__}: {exc}") from exc
    return module


def _from_path(name: str, option: str) -> Any:
    """A module imported by name, the working directory first on the path."""
    sys.path.insert(0, str(Path.cwd()))
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ConfigError(f"{option}: cannot import {name!r}: {exc}") from exc
    except Exception as exc:  # user code failing to import: one line
        raise ConfigError(f"{option}: importing {name} failed: {type(exc).__name__}: {exc}") from exc
    finally:
        sys.path.remove(str(Path.cwd()))
