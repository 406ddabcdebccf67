"""The replay's fast parser gives exactly parse_event's event, or None where the slow path must decide."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerml import DatasetRegistered, ModelRegistered, RoleGranted, sign_event
from ledgerml.errors import LedgerMLError
from ledgerml.events import Event, parse_event
from ledgerml.ledger.replay import fast_event
from ledgerml.types import Role

from ..conftest import make_identity

OWNER = make_identity("owner", 2)
LEDGER = "0123456789abcdef0123456789abcdef"


def _bodies() -> list[bytes]:
    payloads = [
        DatasetRegistered(dataset_id="sha256:" + "a" * 64, name="plain", license="MIT"),
        DatasetRegistered(dataset_id="sha256:" + "b" * 64, name='quote " back \\ é ✓ \n', metadata={"records": 5}),
        DatasetRegistered(dataset_id="sha256:" + "c" * 64, name='x,"signature":"0x' + "0" * 130 + '","time":1,"v":1}'),
        ModelRegistered(model_id="sha256:" + "d" * 64, name="m", datasets=["sha256:" + "a" * 64]),
        RoleGranted(subject=OWNER.address, role=Role.TRAINER),
    ]
    return [sign_event(OWNER, LEDGER, p, n).body for n, p in enumerate(payloads)]


def _slow(body: bytes) -> Event | None:
    """What the audit's slow path accepts: parse_event, then the payload's validation."""
    try:
        event = parse_event(body)
        event.typed_payload()
    except LedgerMLError:
        return None
    return event


def _same(fast: Event, slow: Event) -> bool:
    return all(getattr(fast, name) == getattr(slow, name) for name in Event.__slots__)


@pytest.mark.parametrize("body", _bodies())
def test_fast_event_is_parse_events_event_with_every_slot(body: bytes) -> None:
    fast, slow = fast_event(body), _slow(body)
    assert fast is not None and slow is not None and _same(fast, slow)
    assert fast._typed == slow.typed_payload()


def test_fast_event_leaves_non_canonical_and_invalid_bodies_to_the_slow_path() -> None:
    body = _bodies()[0]
    wrong = [
        body.replace(b'"license":"MIT"', b'"license": "MIT"'),  # whitespace
        body.replace(b'"nonce":0', b'"nonce":00'),  # leading zero
        body.replace(b'"nonce":0', b'"nonce":0.0'),  # a float nonce
        body.replace(b'"license":"MIT"', b'"license":"MIT","license":"MIT"'),  # duplicate key
        body.replace(b'"license":"MIT",', b""),  # a field left to its default: not canonical
        body.replace(b'"name":"plain"', b'"name":1'),  # pydantic refuses
        body.replace(b'"kind":"DatasetRegistered"', b'"kind":"NoSuchKind"'),
        body.replace(b'"v":1}', b'"v":2}'),
        body.replace(OWNER.address.encode(), OWNER.address.lower().encode()),  # not checksummed
        body[:-1],
    ]
    for tampered in wrong:
        assert tampered != body and fast_event(tampered) is None
        assert _slow(tampered) is None


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_fast_event_never_accepts_what_the_slow_path_refuses(data: st.DataObject) -> None:
    body = bytearray(data.draw(st.sampled_from(_bodies())))
    rng = random.Random(data.draw(st.integers(0, 2**32)))
    for _ in range(data.draw(st.integers(1, 3))):
        i = rng.randrange(len(body))
        op = rng.randrange(3)
        if op == 0:
            body[i] = rng.randrange(256)
        elif op == 1:
            del body[i]
        else:
            body.insert(i, rng.choice(b'{}[]",:0123456789 \\aA'))
    fast, slow = fast_event(bytes(body)), _slow(bytes(body))
    if fast is not None:
        assert slow is not None and _same(fast, slow)
