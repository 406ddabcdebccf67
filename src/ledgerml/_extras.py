"""Optional dependencies: which extra brings which library, and one clear error when it is not installed."""

from __future__ import annotations

import importlib.util

from .errors import ConfigError

EXTRAS: dict[str, tuple[str, ...]] = {
    "analytics": ("pandas", "pyarrow", "sklearn", "lightgbm", "statsforecast"),
    "fl": ("sklearn", "matplotlib", "flwr"),
    "evm": ("web3", "eth_tester", "vyper"),
    "service": ("fastapi", "uvicorn", "jinja2", "httpx"),
    "contracts": ("tree_sitter", "tree_sitter_solidity", "lightgbm"),
}
"""Each extra of ``pip install 'ledgerml[EXTRA]'`` and the importable modules it brings."""


class MissingExtra(ConfigError):
    """A command needs an optional library that is not installed; the message names the extra to install."""


def missing_modules(*modules: str) -> list[str]:
    """Those of ``modules`` that cannot be imported (looked up without importing them)."""
    absent = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            absent.append(name)
    return absent


def require(*modules: str, extra: str, purpose: str = "this command") -> None:
    """``MissingExtra`` naming ``pip install 'ledgerml[EXTRA]'`` unless every one of ``modules`` is importable."""
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}")
    absent = missing_modules(*modules)
    if absent:
        verb = "is" if len(absent) == 1 else "are"
        raise MissingExtra(
            f"{purpose} needs {', '.join(absent)}, which {verb} not installed: pip install 'ledgerml[{extra}]'"
        )


def require_extra(extra: str, purpose: str = "this command") -> None:
    """``require`` every module of ``extra``."""
    require(*EXTRAS[extra], extra=extra, purpose=purpose)


__all__ = ["EXTRAS", "MissingExtra", "missing_modules", "require", "require_extra"]
