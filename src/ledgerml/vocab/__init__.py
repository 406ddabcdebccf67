"""The event vocabularies: each module holds its kinds' payloads, state records, rules and EVM encodings.

Importing this package registers every kind with the state machine (``ledgerml.state``), which knows none of them;
``ledgerml`` imports it, so the vocabulary is complete wherever the machine runs.
"""

from . import core, rewards, tasks, tokens

VOCABULARIES = (core, tasks, tokens, rewards)
"""Every vocabulary module, in dependency order."""

__all__ = ["VOCABULARIES", "core", "rewards", "tasks", "tokens"]
