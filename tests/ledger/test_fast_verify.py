"""Issue 19, third pass: the cheaper verify path gives exactly what the slow path gives, on valid and invalid input.

``fast_event`` validates payloads with pydantic's JSON parser and one reused C encoder; ``CheckpointEncoder``
reuses unchanged chunks between checkpoints; ``loads_bounded`` parses short texts without encoding them; the
audit pauses the cyclic collector. Each is compared against the original code path here.
"""

from __future__ import annotations

import gc
import json
import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerml import DatasetRegistered, sign_event
from ledgerml._json import JsonTooLarge, loads_bounded, validate_bounded
from ledgerml.errors import LedgerMLError, MalformedEvent
from ledgerml.events import Event
from ledgerml.ledger.replay import collector_paused, fast_event
from ledgerml.state import CheckpointEncoder, LedgerInfo, State, apply, encode_state
from ledgerml.types import Address
from ledgerml.vocab.alerts import AlertRaised, AlertSubject
from ledgerml.vocab.tasks import TaskCreated

from ..conftest import make_identity
from .test_replay import _slow

OWNER = make_identity("owner", 2)
LEDGER = "0123456789abcdef0123456789abcdef"
DIGEST = "sha256:" + "e" * 64


def _agree(body: bytes) -> None:
    """fast_event accepts only what the slow path accepts, and then gives its event slot for slot."""
    fast, slow = fast_event(body), _slow(body)
    if fast is None:
        return
    assert slow is not None, body
    for name in Event.__slots__:
        assert getattr(fast, name) == getattr(slow, name), name
    assert fast._typed == slow.typed_payload()
    assert json.dumps(fast.payload) == json.dumps(slow.payload)  # the same key order at every level


def _alert() -> AlertRaised:
    subject = AlertSubject(type="block_range", id="5-9", first_block=5, last_block=9)
    return AlertRaised(
        detector="rule", subject=subject, score=0.75, threshold=0.5, decision="flag", explanation_digest=DIGEST
    )


def _task() -> TaskCreated:
    return TaskCreated(
        task_id="t1", name="task", model_spec=DIGEST, initial_model=DIGEST, rounds=3, rule="fedavg",
        rule_params={"z": 1, "a": [1.5, {"y": None, "b": True}]}, screening={"detector": "norm"},
    )  # fmt: skip


def test_nested_models_and_excluded_fields_give_the_slow_paths_event() -> None:
    for nonce, payload in enumerate([_alert(), _task()]):
        body = sign_event(OWNER, LEDGER, payload, nonce).body
        assert fast_event(body) is not None
        _agree(body)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=120, deadline=None)
@given(json_values, st.booleans(), st.booleans())
def test_random_payload_texts_are_judged_as_the_slow_path_judges_them(
    metadata: Any, sort_keys: bool, compact: bool
) -> None:
    """Any JSON text in the payload slot (canonical or not, valid for the schema or not)."""
    fields = {"consent_note": "", "dataset_id": DIGEST, "license": "", "metadata": metadata, "name": "n"}
    fields |= {"parents": [], "uri": ""}
    separators = (",", ":") if compact else (", ", ": ")
    text = json.dumps(fields, sort_keys=sort_keys, separators=separators, ensure_ascii=False)
    signed = sign_event(OWNER, LEDGER, DatasetRegistered(dataset_id=DIGEST, name="n"), 0).body
    start, end = signed.index(b'"payload":') + len(b'"payload":'), signed.index(b',"signature":')
    body = signed[:start] + text.encode("utf-8", "surrogatepass") + signed[end:]
    _agree(body)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(max_size=5), json_values, max_size=4))
def test_valid_random_metadata_takes_the_fast_path(metadata: dict[str, Any]) -> None:
    try:
        payload = DatasetRegistered(dataset_id=DIGEST, name="n", metadata=metadata)
        body = sign_event(OWNER, LEDGER, payload, 0).body
    except (LedgerMLError, ValueError):  # NaN, infinities, surrogates: not signable
        return
    assert fast_event(body) is not None
    _agree(body)


def test_validate_bounded_checks_size_and_depth_first() -> None:
    with pytest.raises(JsonTooLarge, match="bytes"):
        validate_bounded(DatasetRegistered, '{"name":"' + "é" * 40 + '"}', max_bytes=64)
    with pytest.raises(JsonTooLarge, match="nested"):
        validate_bounded(DatasetRegistered, "[" * 5 + "]" * 5, max_depth=4)
    assert validate_bounded(DatasetRegistered, '{"dataset_id":"' + DIGEST + '","name":"n"}').name == "n"


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=12) | json_values.map(json.dumps))
def test_loads_bounded_on_text_is_loads_bounded_on_its_bytes(text: str) -> None:
    """The text path (no encoding) against the bytes path: same value or the same error."""

    def outcome(value: str | bytes) -> Any:
        try:
            return ("ok", repr(loads_bounded(value, max_bytes=40, max_depth=3)))
        except LedgerMLError as exc:
            return (type(exc), str(exc))

    assert outcome(text) == outcome(text.encode("utf-8", "surrogatepass"))


def test_a_text_starting_with_a_bom_or_nul_is_parsed_as_its_bytes_are() -> None:
    assert loads_bounded("\ufeff[1]") == [1] == loads_bounded("\ufeff[1]".encode())
    with pytest.raises(MalformedEvent):
        loads_bounded("[\x00]")


def _info(n: int) -> LedgerInfo:
    return LedgerInfo(f"id{n}", "name", Address("0x" + "a" * 40), n)


def test_checkpoint_encoder_reuses_only_chunks_whose_rows_are_the_same_objects() -> None:
    state, encoder = State(), CheckpointEncoder()
    for n in range(3000):
        state.put("datasets", f"d{n}", _info(n))
    state.put("meta", "clock", 1)
    assert encoder.encode(state) == encode_state(state)
    state.put("datasets", "d5", _info(7))  # one row of the first chunk replaced
    state.put("datasets", "d2999", _info(1))  # and one of the last
    state.delete("datasets", "d1500")
    state.put("other", 1, (1, 2))
    assert encoder.encode(state) == encode_state(state)
    state.tables["datasets"].clear()
    assert encoder.encode(state) == encode_state(state)


def test_apply_still_undoes_a_rejected_event_and_nests_in_atomic_blocks() -> None:
    genesis_admin = make_identity("admin", 1)
    from ledgerml.vocab.core import LedgerCreated

    state = State()
    genesis = LedgerCreated(name="l", admin=genesis_admin.address, validator=genesis_admin.address)
    apply(state, sign_event(genesis_admin, LEDGER, genesis, 0))
    before = encode_state(state)
    with pytest.raises(LedgerMLError):  # owner holds no data_owner role
        apply(state, sign_event(OWNER, LEDGER, DatasetRegistered(dataset_id=DIGEST, name="n"), 0))
    assert encode_state(state) == before and state._journal is None
    with pytest.raises(LedgerMLError), state.atomic():
        apply(state, sign_event(genesis_admin, LEDGER, LedgerCreated(name="x", admin=OWNER.address,
                                                                     validator=OWNER.address), 1))  # fmt: skip
    assert encode_state(state) == before and state._journal is None


def test_collector_is_paused_only_without_other_threads_and_restored() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        with collector_paused():
            assert gc.isenabled()
    finally:
        release.set()
        other.join()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError
    assert gc.isenabled()


def test_depth_bound_is_the_bodys_brackets_in_strings_not_counted() -> None:
    many = DatasetRegistered(dataset_id=DIGEST, name="[{" * 40, metadata={"a": [[1]]})
    body = sign_event(OWNER, LEDGER, many, 0).body
    assert fast_event(body) is not None
    _agree(body)
    for lists, accepted in ((29, True), (30, False)):  # the body nests 3 + lists deep; at most 32 are accepted
        deep: object = 1
        for _ in range(lists):
            deep = [deep]
        payload = DatasetRegistered(dataset_id=DIGEST, name="n", metadata={"a": deep})
        body = sign_event(OWNER, LEDGER, payload, 0).body
        assert (fast_event(body) is not None) is accepted and (_slow(body) is not None) is accepted
        _agree(body)
