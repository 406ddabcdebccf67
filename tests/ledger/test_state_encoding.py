"""Checkpoints and state digests keep their exact bytes: the fast encoders against the original ones as oracle."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerml._canonical import canonical_json
from ledgerml.state import _RECORD_TYPES, LedgerInfo, State, decode_state, encode_state
from ledgerml.types import Address, Role


def _oracle_encode(value: Any) -> Any:
    """``state._encode`` as it was before the fast paths (issue 19)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Role):
        return {"$role": value.value}
    if isinstance(value, str):
        return value
    if type(value).__name__ in _RECORD_TYPES:
        fields = type(value).__dataclass_fields__
        return {"$r": type(value).__name__, "v": [_oracle_encode(getattr(value, n)) for n in fields]}
    if isinstance(value, frozenset):
        return {"$fs": sorted((_oracle_encode(v) for v in value), key=repr)}
    if isinstance(value, tuple):
        return {"$t": [_oracle_encode(v) for v in value]}
    raise TypeError(type(value).__name__)


def _oracle_jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float):
        return value
    names = getattr(type(value), "__dataclass_fields__", None)
    if names is not None:
        return {name: _oracle_jsonable(getattr(value, name)) for name in names}
    if isinstance(value, frozenset | set):
        return sorted(_oracle_jsonable(v) for v in value)
    if isinstance(value, tuple | list):
        return [_oracle_jsonable(v) for v in value]
    return value


def _oracle_checkpoint(state: State) -> bytes:
    tables = {
        t: [[_oracle_encode(k), _oracle_encode(v)] for k, v in rows.items()] for t, rows in sorted(state.tables.items())
    }
    return json.dumps(tables, sort_keys=True, separators=(",", ":")).encode()


def _oracle_digest(state: State) -> str:
    snapshot = {
        table: {str(k): _oracle_jsonable(v) for k, v in sorted(rows.items(), key=lambda kv: str(kv[0]))}
        for table, rows in sorted(state.tables.items())
        if rows
    }
    return "sha256:" + hashlib.sha256(canonical_json(snapshot)).hexdigest()


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False), st.text()
)
leaves = st.one_of(scalars, st.sampled_from(list(Role)))
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(tuple),
        st.frozensets(st.text(max_size=4), max_size=3) | st.frozensets(st.integers(-5, 5), max_size=3),
        st.builds(LedgerInfo, st.text(max_size=8), st.text(max_size=8), st.just(Address("0x" + "a" * 40)), inner),
    ),
    max_leaves=8,
)
keys = st.one_of(st.text(max_size=6), st.integers(-3, 3), st.tuples(st.text(max_size=3), st.integers(0, 3)))


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(["a", "roles", "meta", "zz", ""]), st.dictionaries(keys, values, max_size=5)))
def test_checkpoint_and_digest_bytes_are_unchanged(tables: dict[str, dict[Any, Any]]) -> None:
    state = State()
    state.tables = tables
    assert encode_state(state) == _oracle_checkpoint(state)
    assert state.digest() == _oracle_digest(state)
    again = decode_state(encode_state(state))
    assert again.digest() == state.digest() and encode_state(again) == encode_state(state)


class _Text(str):
    """A str subclass (as ``Address`` values once were): written as its characters."""


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        keys,
        st.one_of(
            values,
            st.floats(),  # NaN and infinities: a checkpoint writes them, the digest refuses them
            st.text(alphabet=st.characters(codec=None, categories=["Cs", "Cc", "Lo"]), max_size=4),
            st.text(max_size=4).map(_Text),
            st.builds(LedgerInfo, st.text(max_size=3), st.floats(), st.just(Address("0x" + "b" * 40)), values),
        ),
        max_size=6,
    )
)
def test_written_texts_match_the_encoders_on_odd_values(rows: dict[Any, Any]) -> None:
    """Lone surrogates, control characters, NaN, str subclasses, records holding records, keys printing alike:
    the directly written texts give the encoders' bytes, and the digest fails exactly as the encoder did."""
    state = State()
    state.tables = {"t": rows, "u": {1: "one", "1": "one again"}}
    assert encode_state(state) == _oracle_checkpoint(state)
    try:
        expected = _oracle_digest(state)
    except Exception as exc:  # the digest must fail the same way
        with pytest.raises(type(exc)) as found:
            state.digest()
        assert str(found.value) == str(exc)
    else:
        assert state.digest() == expected
