"""Completeness of the event vocabulary: a new kind without a rule, an EVM encoding (or a declared reason why it has
none) or a place in the conformance scenario fails here, not at run time on some backend."""

from __future__ import annotations

import importlib
from pathlib import Path

import ledgerml
from ledgerml import Identity, Ledger, sqlite_url
from ledgerml.events import payload_types
from ledgerml.state import registered_kinds
from ledgerml.vocab import VOCABULARIES
from ledgerml.vocab.evm import encoders, off_chain_kinds

from ..conformance.scenario import Cast, full_task


def test_every_kind_has_a_rule_and_an_evm_encoding_or_a_reason() -> None:
    kinds = set(payload_types())
    assert kinds == set(registered_kinds()), "every payload type has exactly one rule"
    on_chain, off_chain = set(encoders()), set(off_chain_kinds())
    assert not on_chain & off_chain
    missing = sorted(kinds - on_chain - off_chain)
    assert not missing, f"kinds without an EVM encoding or a not_on_chain reason: {missing}"
    assert all(len(reason) > 20 for reason in off_chain_kinds().values())


def test_every_kind_lives_in_one_vocabulary_module() -> None:
    """The payload, its rule and its encoding sit in the same module of ``ledgerml.vocab``."""
    homes = {module.__name__ for module in VOCABULARIES}
    for kind, payload in payload_types().items():
        assert payload.__module__ in homes, f"{kind} is defined in {payload.__module__}, outside ledgerml.vocab"
        module = importlib.import_module(payload.__module__)
        rule_module = ledgerml.state._RULES[kind].__module__
        encoder = encoders().get(kind)
        assert rule_module == payload.__module__, f"{kind}'s rule lives in {rule_module}"
        assert encoder is None or encoder.__module__ == payload.__module__, f"{kind}'s encoder lives elsewhere"
        assert module is not None


def test_every_kind_appears_in_the_conformance_scenario(tmp_path: Path) -> None:
    """The scenario every backend runs uses every kind, so each kind's contract call is exercised on each backend."""
    admin, alice, bob = (
        Identity.from_private_key(n, (s + 1).to_bytes(32, "big")) for n, s in (("a", 1000), ("b", 2000), ("c", 3000))
    )
    with Ledger.create(sqlite_url(tmp_path / "ledger.db"), admin=admin) as ledger:
        full_task(ledger, Cast.make(admin, alice, bob))
        used = {stored.event.kind for stored in ledger.events()}
    missing = sorted(set(payload_types()) - used)
    assert not missing, (
        f"kinds the conformance scenario never uses (add a step module in tests/conformance/steps/): {missing}"
    )
