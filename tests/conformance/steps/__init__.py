"""Scenario steps of the vocabularies added after the core one: one module per vocabulary, found by name.

A step module defines ``KINDS`` (the event kinds it submits) and ``run(ledger, cast)``. ``full_task`` runs every
step after the core scenario; on the EVM ledger, which refuses kinds declared ``not_on_chain``, steps with such
kinds are left out there and the completeness test still sees it on the embedded ledger.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from types import ModuleType
from typing import Any


def step_modules() -> list[ModuleType]:
    """Every step module, in name order."""
    names = sorted(info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_"))
    return [importlib.import_module(f"{__name__}.{name}") for name in names]


def steps_for(on_chain_only: bool) -> list[Callable[[Any, Any], None]]:
    """The steps to run: all of them, or only those whose kinds all have an EVM encoding."""
    from ledgerml.vocab.evm import encoders

    on_chain = set(encoders())
    return [m.run for m in step_modules() if not on_chain_only or set(m.KINDS) <= on_chain]
