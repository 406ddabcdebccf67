"""Application-domain scenarios on real data (healthcare, finance, supply chain, IoT, cybersecurity): each
a consortium of organisations training on the ledger, measured against centralised and local-only baselines.

The registry maps a name to ``"module:attr"`` and imports a scenario only when it is run."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ..errors import ConfigError, NotFound

if TYPE_CHECKING:
    from .base import Scenario

SCENARIOS: dict[str, str] = {
    "healthcare": "ledgerml.scenarios.healthcare:SCENARIO",
    "finance": "ledgerml.scenarios.finance:SCENARIO",
    "supply-chain": "ledgerml.scenarios.supply_chain:SCENARIO",
    "iot": "ledgerml.scenarios.iot:SCENARIO",
    "cybersecurity": "ledgerml.scenarios.cybersecurity:SCENARIO",
}
"""Every scenario by name, in the order ``scenario list`` shows them."""


def names() -> list[str]:
    """The registered scenario names."""
    return list(SCENARIOS)


def get(name: str) -> Scenario:
    """The scenario called ``name``; ``NotFound`` naming the known ones, ``ConfigError`` if it cannot load."""
    if name not in SCENARIOS:
        raise NotFound(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    module_name, attr = SCENARIOS[name].split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise ConfigError(f"scenario {name!r} is registered but not available in this version") from None
    return getattr(module, attr)  # type: ignore[no-any-return]


__all__ = ["SCENARIOS", "get", "names"]
