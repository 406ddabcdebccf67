"""Events: canonical encoding, stable digests, envelope and payload validation."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerml._canonical import canonical_json
from ledgerml.errors import MalformedEvent, UnknownEventKind
from ledgerml.events import Event, event_from_dict, parse_event, sign_event, validate_payload
from ledgerml.identity import Identity, recover_signer
from ledgerml.types import Role
from ledgerml.vocab.core import DatasetRegistered, ModelRegistered, RoleGranted

LEDGER = "0" * 31 + "1"
DIGEST = "sha256:" + "ab" * 32


def test_canonical_json_is_sorted_and_compact() -> None:
    assert canonical_json({"b": 1, "a": [True, None, "é"]}) == '{"a":[true,null,"é"],"b":1}'.encode()
    with pytest.raises(MalformedEvent):
        canonical_json({"x": float("nan")})


def test_digest_is_over_unsigned_fields_and_stable(alice: Identity) -> None:
    event = sign_event(alice, LEDGER, RoleGranted(subject=alice.address, role=Role.AUDITOR), 0, time_ms=1)
    expected = json.dumps(event.unsigned_dict(), sort_keys=True, separators=(",", ":")).encode()
    import hashlib

    assert event.digest == hashlib.sha256(expected).digest()
    assert recover_signer(event.digest, event.signature) == alice.address
    again = parse_event(event.body)
    assert again == event and again.digest == event.digest and again.id == event.id
    # the digest is pinned: changing the encoding rules would silently invalidate every ledger
    fixed = Identity.from_private_key("fixed", (7).to_bytes(32, "big"))
    pinned = sign_event(fixed, LEDGER, RoleGranted(subject=fixed.address, role=Role.AUDITOR), 3, time_ms=1700000000000)
    assert pinned.id == "sha256:8fd77918f73c6e4fb578c7cb485b904979e34dbbda50af1c00db2120863d6e98"  # literal
    assert pinned.body.startswith(b'{"actor":"' + fixed.address.encode())


def test_non_canonical_body_is_rejected(alice: Identity) -> None:
    event = sign_event(alice, LEDGER, RoleGranted(subject=alice.address, role=Role.AUDITOR), 0)
    spaced = json.dumps(event.to_dict(), indent=1)
    with pytest.raises(MalformedEvent, match="canonical"):
        parse_event(spaced)
    with pytest.raises(MalformedEvent, match="not valid JSON"):
        parse_event(b"{broken")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"v": 2}, "version"),
        ({"ledger": "xyz"}, "ledger"),
        ({"kind": ""}, "kind"),
        ({"actor": "0xabc"}, "actor"),
        ({"nonce": -1}, "nonce"),
        ({"nonce": True}, "nonce"),
        ({"time": "now"}, "time"),
        ({"payload": []}, "payload"),
        ({"signature": "0x00"}, "signature"),
        ({"extra": 1}, "unexpected"),
    ],
)
def test_envelope_errors_are_specific(alice: Identity, change: dict[str, object], message: str) -> None:
    data = sign_event(alice, LEDGER, RoleGranted(subject=alice.address, role=Role.AUDITOR), 0).to_dict()
    data.update(change)
    with pytest.raises(MalformedEvent, match=message):
        event_from_dict(data)


def test_actor_must_be_checksummed(alice: Identity) -> None:
    data = sign_event(alice, LEDGER, RoleGranted(subject=alice.address, role=Role.AUDITOR), 0).to_dict()
    data["actor"] = alice.address.lower()
    with pytest.raises(MalformedEvent, match="checksummed"):
        event_from_dict(data)


def test_payload_validation(alice: Identity) -> None:
    with pytest.raises(UnknownEventKind):
        validate_payload("Teleported", {})
    with pytest.raises(MalformedEvent, match="dataset_id"):
        validate_payload(
            "DatasetRegistered", DatasetRegistered(dataset_id=DIGEST, name="d").model_dump() | {"dataset_id": "md5:1"}
        )
    full = DatasetRegistered(dataset_id=DIGEST, name="d").model_dump(mode="json")
    assert validate_payload("DatasetRegistered", full) == DatasetRegistered(dataset_id=DIGEST, name="d")
    partial = {"dataset_id": DIGEST, "name": "d"}
    with pytest.raises(MalformedEvent, match="canonical form"):
        validate_payload("DatasetRegistered", partial)
    coerced = ModelRegistered(model_id=DIGEST, name="m").model_dump(mode="json") | {"round": "3"}
    with pytest.raises(MalformedEvent):
        validate_payload("ModelRegistered", coerced)
    with pytest.raises(MalformedEvent, match="bonus: Extra inputs"):
        validate_payload("RoleGranted", {"subject": alice.address, "role": "admin", "bonus": 1})
    with pytest.raises(MalformedEvent, match="role"):
        validate_payload("RoleGranted", {"subject": alice.address, "role": "emperor"})


def test_event_equality_is_by_body(alice: Identity) -> None:
    a = sign_event(alice, LEDGER, RoleGranted(subject=alice.address, role=Role.AUDITOR), 0, time_ms=5)
    b = Event(
        ledger=a.ledger,
        kind=a.kind,
        actor=a.actor,
        nonce=a.nonce,
        time=a.time,
        payload=a.payload,
        signature=a.signature,
    )
    assert a == b and hash(a) == hash(b)
    c = Event(
        ledger=a.ledger, kind=a.kind, actor=a.actor, nonce=a.nonce, time=6, payload=a.payload, signature=a.signature
    )
    assert a != c and a.digest != c.digest


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.text(max_size=12)
    | st.sampled_from([',"time":', '"signature":"0x', "}", ',"v":1}']),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(
    metadata=st.dictionaries(st.text(max_size=10), json_values, max_size=4),
    name=st.text(max_size=20),
    nonce=st.integers(0, 2**40),
    when=st.integers(0, 2**45),
)
def test_body_is_exactly_the_canonical_encoding(metadata: dict, name: str, nonce: int, when: int) -> None:  # type: ignore[type-arg]
    alice = Identity.from_private_key("alice", (5).to_bytes(32, "big"))
    payload = DatasetRegistered(dataset_id=DIGEST, name=name, metadata=metadata)
    event = sign_event(alice, LEDGER, payload, nonce, time_ms=when)
    assert event.body == canonical_json(event.to_dict())
    assert parse_event(event.body) == event
