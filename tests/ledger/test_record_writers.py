"""The compiled record writers of ``state._encode`` / ``state._jsonable`` against the field loops they replace."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerml import state as state_module
from ledgerml.events import load_vocabularies
from ledgerml.state import _PLAIN, _RECORD_TYPES, State, _encode, _jsonable, decode_state, encode_state, record_type
from ledgerml.types import Role

load_vocabularies()


def _old_encode(value: Any) -> Any:
    """``_encode`` before the writers were compiled (a loop over ``attrgetter`` of the fields)."""
    cls = type(value)
    if cls in _PLAIN:
        return value
    if cls is tuple:
        return {"$t": [v if type(v) in _PLAIN else _old_encode(v) for v in value]}
    if cls.__name__ in _RECORD_TYPES and not isinstance(value, str | int | float):
        names = tuple(cls.__dataclass_fields__)
        return {"$r": cls.__name__, "v": [_old_encode(v) for v in operator.attrgetter(*names)(value)]}
    return state_module._encode_general(value)


def _old_jsonable(value: Any) -> Any:
    """``_jsonable`` before the writers were compiled (``dict(zip(names, values))``)."""
    cls = type(value)
    if cls in _PLAIN:
        return value
    if hasattr(cls, "__dataclass_fields__") and not isinstance(value, str | int | float):
        names = tuple(cls.__dataclass_fields__)
        return dict(zip(names, [_old_jsonable(getattr(value, n)) for n in names], strict=True))
    if cls is tuple:
        return [_old_jsonable(v) for v in value]
    return state_module._jsonable_general(value)


@record_type
@dataclass(frozen=True, slots=True)
class _Probe:
    """A record of every kind of field value a state holds."""

    text: Any
    number: Any
    nested: Any
    many: Any


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5))
VALUES = st.recursive(
    st.one_of(SCALARS, st.sampled_from(list(Role))),
    lambda inner: st.one_of(
        st.tuples(inner, inner),
        st.frozensets(st.integers(), max_size=3),
        st.builds(_Probe, inner, inner, inner, inner),
    ),
    max_leaves=12,
)


@settings(max_examples=100, deadline=None)
@given(VALUES, VALUES, VALUES, VALUES)
def test_compiled_writers_write_what_the_loops_wrote(a: Any, b: Any, c: Any, d: Any) -> None:
    value = _Probe(a, b, (c, d), d)
    assert _encode(value) == _old_encode(value)
    assert _jsonable(value) == _old_jsonable(value)
    state = State()
    state.put("probes", "one", value)
    assert decode_state(encode_state(state)).tables == state.tables
