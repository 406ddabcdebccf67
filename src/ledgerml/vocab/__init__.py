"""The event vocabularies: each module holds its kinds' payloads, state records, rules and EVM encodings.

Importing this package registers every kind with the state machine (``ledgerml.state``), which knows none of them.
Every module of this package except ``evm`` (the encoder registry) is a vocabulary and is found here by name, so a
new vocabulary is a new module and nothing else; ``ledgerml.events.load_vocabularies`` imports this package on the
first lookup of a kind, so the vocabulary is complete wherever the machine runs.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

CORE = ("core", "tasks", "tokens", "rewards")
"""The first vocabularies, in dependency order; later ones (any other module here) load after them by name."""
NOT_A_VOCABULARY = frozenset({"evm"})


def _discover() -> tuple[ModuleType, ...]:
    names = [info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_")]
    later = sorted(set(names) - set(CORE) - NOT_A_VOCABULARY)
    return tuple(importlib.import_module(f"{__name__}.{name}") for name in (*CORE, *later))


VOCABULARIES = _discover()
"""Every vocabulary module, the core ones first."""

__all__ = ["CORE", "VOCABULARIES"]
