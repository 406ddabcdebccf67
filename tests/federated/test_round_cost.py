"""The aggregator's fixed cost per round, cut without dropping a check: each commitment's signature is recovered
once while the round is screened (the receipt and the dry run share it), the global model is read from the
store once per global model, and a participant trains on the arrays a message carries (one encoding, to check
the round's base) with the same bytes and commitment as from the encoded model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerml.errors import ConfigError
from ledgerml.federated.aggregation import aggregate
from ledgerml.federated.audit import audit_task
from ledgerml.federated.coordinator import Reply, TaskCoordinator
from ledgerml.federated.runner import FederationConfig, load_participant, load_plan, setup_federation
from ledgerml.federated.weight_deltas import WeightsDeltas
from ledgerml.home import Home
from ledgerml.identity import Identity
from ledgerml.ml.serialization import flatten, from_bytes
from ledgerml.store import ArtifactStore

TASK = "rc"


@pytest.fixture
def home(tmp_path: Path) -> Home:
    target = Home(tmp_path / "home")
    target.init(unencrypted=True)
    setup_federation(target, FederationConfig(task_id=TASK, participants=3, rounds=2, epochs=1), unencrypted=True)
    return target


def _round(home: Home) -> tuple[TaskCoordinator, list[Any], list[Reply]]:
    """The coordinator of a fresh task, its joined participants, and one round of their signed replies."""
    people = [load_participant(home, TASK, i) for i in range(3)]
    ledger = home.open_ledger()
    for person in people:
        ledger.append(person.join(ledger.ledger_id, TASK, ledger.next_nonce(person.address)))
    coord = TaskCoordinator(ledger, home.store(), home.identity(load_plan(home, TASK).aggregator), TASK)
    config, spec = coord.train_config(), coord.model_spec()
    replies = []
    for person in people:
        data, event, _ = person.train(coord.global_bytes(), config, spec)
        replies.append(Reply(person.address, event.to_dict(), data))
    return coord, people, replies


def test_each_commitment_is_recovered_once_while_screening(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    """Screening recovers each commitment's signer once (receipt and dry run share it); appending it asks again
    (the ledger checks what it stores) and ``recover_signer``'s cache answers: one recovery per commitment, where
    it was three, then two (a wrong answer from the cache would refuse a commitment: all three are accepted)."""
    import ledgerml.identity as identity
    import ledgerml.state as state_module

    coord, _, replies = _round(home)
    asked: list[bytes] = []
    recovered: list[bytes] = []
    original_signer, original_address = state_module.recover_signer, identity.recover_address

    def counting_asks(digest: bytes, signature: bytes) -> Any:
        asked.append(bytes(digest))
        return original_signer(digest, signature)

    def counting_recoveries(digest: bytes, signature: bytes) -> Any:
        recovered.append(bytes(digest))
        return original_address(digest, signature)

    monkeypatch.setattr(state_module, "recover_signer", counting_asks)
    monkeypatch.setattr(identity, "recover_address", counting_recoveries)
    outcome = coord.process_round(replies)
    assert outcome.status == "ok" and len(outcome.accepted) == 3 and len(outcome.receipts) == 3
    digests = {event_digest(r) for r in replies}
    assert all(asked.count(d) == 2 for d in digests), [asked.count(d) for d in digests]  # screening and append
    assert all(recovered.count(d) == 1 for d in digests), [recovered.count(d) for d in digests]
    assert audit_task(coord.ledger, home.store(), TASK).ok
    coord.ledger.close()


def event_digest(reply: Reply) -> bytes:
    """The digest a reply's commitment is signed over."""
    from ledgerml.events import event_from_dict

    assert reply.event is not None
    return bytes(event_from_dict(reply.event).digest)


def test_a_forged_copy_of_a_commitment_does_not_spoil_the_real_one(home: Home) -> None:
    """The envelope cache is keyed by digest and signature: a copy of a participant's commitment with another
    signature (from a node that sorts first) is refused, and the participant's own reply still counts."""
    coord, people, replies = _round(home)
    victim = replies[0]
    assert victim.event is not None
    forged = dict(victim.event)
    forger = Identity.generate("forger")
    forged["signature"] = "0x" + forger.sign_digest(bytes(32)).hex()
    outcome = coord.process_round([Reply("0", forged, victim.update), *replies])
    assert people[0].address in outcome.accepted and len(outcome.accepted) == 3
    assert [who for who, _ in outcome.invalid] == [people[0].address]
    assert "node 0" not in outcome.receipts  # no receipt for a commitment its participant did not sign
    coord.ledger.close()


def test_the_global_model_is_read_once_per_global_model(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    coord, _, replies = _round(home)
    reads: list[str] = []
    original = ArtifactStore.get

    def counting(store: ArtifactStore, ref: Any) -> bytes:
        reads.append(str(ref))
        return original(store, ref)

    monkeypatch.setattr(ArtifactStore, "get", counting)
    first = coord.process_round(replies)
    assert first.status == "ok" and reads == []  # read while the replies were made; the round reads it no more
    coord.max_update_bytes()
    coord.global_weights()
    assert reads == []  # the aggregate this coordinator stored is the next global model, already in memory
    assert from_bytes(coord.global_bytes()).keys() == first.global_weights.keys()
    assert str(coord.global_digest()) == first.aggregate_digest
    coord.ledger.close()


def test_training_on_the_messages_arrays_gives_the_same_update_and_commitment(home: Home) -> None:
    coord, people, _ = _round(home)
    config, spec = coord.train_config(), coord.model_spec()
    encoded = coord.global_bytes()
    from_encoded = people[1].train(encoded, config, spec)
    from_arrays = people[1].train(from_bytes(encoded), config, spec)
    assert from_arrays[0] == from_encoded[0] and from_arrays[1].payload == from_encoded[1].payload  # times differ
    config["base"] = "sha256:" + "0" * 64  # the arrays are not the round's base: refused either way
    for model in (encoded, from_bytes(encoded)):
        with pytest.raises(Exception, match="not the global model the round names"):
            people[1].train(model, config, spec)
    coord.ledger.close()


def test_a_round_replayed_from_the_cut_path_audits_clean(home: Home) -> None:
    """Two whole rounds through the cut path: the auditor's replay gives the recorded digests."""
    coord, people, replies = _round(home)
    coord.process_round(replies)
    config, spec = coord.train_config(), coord.model_spec()
    config["nonces"] = json.dumps({p.address: coord.ledger.next_nonce(p.address) for p in people})
    second = [
        Reply(p.address, e.to_dict(), d) for p in people for d, e, _ in [p.train(coord.global_weights(), config, spec)]
    ]
    outcome = coord.process_round(second)
    assert outcome.status == "ok" and len(outcome.accepted) == 3
    report = audit_task(coord.ledger, home.store(), TASK)
    assert report.ok, report
    coord.ledger.close()


_DTYPES = st.sampled_from([np.float32, np.float64, np.float16, np.int32])
_RULES = [
    ("fedavg", {}),
    ("median", {}),
    ("trimmed_mean", {"beta": 0.25}),
    ("krum", {"f": 1}),
    ("multi_krum", {"f": 1, "m": 2}),
    ("bulyan", {"f": 0}),
    ("norm_clipped_mean", {"clip": 1.0}),
]


def _draw(rng: np.random.Generator, shape: list[int], dtype: Any) -> np.ndarray:
    if dtype == np.int32:
        return rng.integers(-9, 9, size=shape).astype(dtype)
    return np.asarray(rng.normal(0, 3, size=shape)).astype(dtype)


@settings(max_examples=30, deadline=None)
@given(
    shapes=st.lists(st.lists(st.integers(1, 5), max_size=3), min_size=1, max_size=4),
    dtypes=st.lists(_DTYPES, min_size=4, max_size=4),
    n=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
)
def test_weights_deltas_have_the_bits_of_the_stacked_matrix(
    shapes: list[list[int]], dtypes: list[Any], n: int, seed: int
) -> None:
    """Every block, every row and every rule's result equal the stacked ``flatten(u) - flatten(t)`` matrix's."""
    rng = np.random.default_rng(seed)
    template = {f"a{i}": _draw(rng, shape, dtypes[i]) for i, shape in enumerate(shapes)}
    updates = [{k: _draw(rng, list(v.shape), v.dtype) for k, v in template.items()} for _ in range(n)]
    matrix = np.stack([flatten(u) - flatten(template) for u in updates])
    source = WeightsDeltas(template, updates)
    d = matrix.shape[1]
    assert source.shape == matrix.shape
    lo = int(rng.integers(0, d))
    hi = int(rng.integers(lo + 1, d + 1))
    assert source.columns(lo, hi).tobytes() == np.ascontiguousarray(matrix[:, lo:hi]).tobytes()
    assert all(source.row(i).tobytes() == matrix[i].tobytes() for i in range(n))
    weights = rng.integers(0, 50, size=n).astype(np.float64)
    for rule, params in _RULES:
        with np.errstate(all="ignore"):
            try:
                expected = aggregate(rule, matrix, weights, params)
            except ConfigError:
                continue  # too few updates for the rule's f: refused either way
            got = aggregate(rule, WeightsDeltas(template, updates), weights, params)
        assert got.delta.tobytes() == expected.delta.tobytes(), rule
        assert (got.accepted, got.rejected) == (expected.accepted, expected.rejected), rule


def test_weights_deltas_refuse_an_update_of_another_size() -> None:
    template = {"w": np.zeros(3)}
    with pytest.raises(ConfigError, match="array sizes"):
        WeightsDeltas(template, [{"w": np.zeros(4)}])
