"""The payload's canonical JSON cut from an event body equals encoding the payload again (issue 19 fast path)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerml._canonical import canonical_json
from ledgerml.errors import MalformedEvent
from ledgerml.events import Event, parse_event, sign_event
from ledgerml.vocab.core import DatasetRegistered

from .conftest import make_identity

OWNER = make_identity("owner", 7)
TEXT = st.text(max_size=40)


@settings(max_examples=60, deadline=None)
@given(TEXT, st.dictionaries(TEXT, st.one_of(TEXT, st.integers(-(2**53), 2**53)), max_size=4), st.integers(0, 2**40))
def test_the_payload_slice_is_its_canonical_encoding(name: str, metadata: dict[str, object], nonce: int) -> None:
    payload = DatasetRegistered(dataset_id="sha256:" + "ab" * 32, name=name, metadata=metadata)
    event = sign_event(OWNER, "0" * 32, payload, nonce)
    assert event._payload_json() == canonical_json(event.payload)
    assert parse_event(event.body).typed_payload() == payload


def test_a_non_canonical_payload_is_still_refused() -> None:
    good = sign_event(OWNER, "0" * 32, DatasetRegistered(dataset_id="sha256:" + "cd" * 32, name="n"), 0)
    fields = {k: getattr(good, k) for k in ("ledger", "kind", "actor", "nonce", "time")}
    payload = {key: value for key, value in good.payload.items() if key != "metadata"}  # a default left out
    with pytest.raises(MalformedEvent, match="canonical"):
        Event(**fields, payload=payload).typed_payload()
