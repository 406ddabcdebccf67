"""The witness's add-checkpoint decision: the tlog-witness status codes, and no rollback across restarts."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ledgerml.errors import ConfigError
from ledgerml.ledger.merkle import MerkleTree, leaf_hash
from ledgerml.witness.checkpoint import AddCheckpoint, Checkpoint, parse_checkpoint_text, verify_cosignature
from ledgerml.witness.note import TYPE_ED25519, Note, VerifierKey, ed25519_public, parse_signature_line, sign_note_text
from ledgerml.witness.state import SIZE_TYPE, WitnessState, load_or_create_identity

LOG_SEED = hashlib.sha256(b"log").digest()
ORIGIN = "example.org/log"
LOG_KEY = str(VerifierKey(ORIGIN, TYPE_ED25519, ed25519_public(LOG_SEED)))


def tree(n: int, salt: bytes = b"") -> MerkleTree:
    t = MerkleTree()
    for i in range(n):
        t.append(leaf_hash(salt + i.to_bytes(4, "big")))
    return t


def note(t: MerkleTree, size: int, seed: bytes = LOG_SEED) -> str:
    text = Checkpoint(ORIGIN, size, t.root(size)).text()
    return Note(text, (sign_note_text(text, ORIGIN, seed),)).encode()


def request(t: MerkleTree, old: int, size: int, seed: bytes = LOG_SEED) -> bytes:
    proof = t.consistency_proof(old, size) if 0 < old < size else []
    return AddCheckpoint(old, tuple(proof), note(t, size, seed)).encode()


@pytest.fixture
def witness(tmp_path: Path):  # type: ignore[no-untyped-def]
    identity = load_or_create_identity(tmp_path / "w", "witness.example/w1")
    state = WitnessState.load(tmp_path / "w")
    assert state.register(ORIGIN, LOG_KEY).status == 200
    return identity, state


def test_a_consistent_checkpoint_is_cosigned_and_remembered(witness, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    identity, state = witness
    t = tree(10)
    first = state.add_checkpoint(request(t, 0, 4), identity, now=100)
    assert first.status == 200
    sig = parse_signature_line(first.body.decode().rstrip("\n"))
    assert verify_cosignature(identity.vkey, Checkpoint(ORIGIN, 4, t.root(4)).text(), sig) == 100
    assert state.add_checkpoint(request(t, 4, 10), identity).status == 200
    again = WitnessState.load(tmp_path / "w")
    assert (again.logs[ORIGIN].size, again.logs[ORIGIN].vkey) == (10, LOG_KEY)


def test_smaller_stale_and_inconsistent_checkpoints_are_refused_also_after_a_restart(
    witness,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    identity, state = witness
    t = tree(10)
    assert state.add_checkpoint(request(t, 0, 8), identity).status == 200
    for current in (state, WitnessState.load(tmp_path / "w")):  # the second is the witness after a restart
        smaller = current.add_checkpoint(request(t, 0, 4), identity)
        assert (smaller.status, smaller.body, smaller.content_type) == (409, b"8\n", SIZE_TYPE)
        assert current.add_checkpoint(request(t, 8, 4), identity).status == 400  # old size beyond the checkpoint
        forked = tree(10, salt=b"fork")  # a rewritten history of the same sizes
        assert current.add_checkpoint(request(forked, 8, 8), identity).status == 409
        lie = AddCheckpoint(8, tuple(forked.consistency_proof(8, 10)), note(forked, 10)).encode()
        assert current.add_checkpoint(lie, identity).status == 422
        assert current.logs[ORIGIN].size == 8
    restarted = WitnessState.load(tmp_path / "w")
    assert restarted.logs[ORIGIN].size == 8
    assert parse_checkpoint_text(Checkpoint(ORIGIN, 8, t.root(8)).text()).size == 8


def test_unknown_logs_bad_signatures_and_bad_bodies(witness) -> None:  # type: ignore[no-untyped-def]
    identity, state = witness
    t = tree(3)
    other = note(t, 3).replace(ORIGIN, "example.org/other")
    assert state.add_checkpoint(AddCheckpoint(0, (), other).encode(), identity).status == 404
    assert state.add_checkpoint(request(t, 0, 3, seed=bytes(32)), identity).status == 403
    assert state.add_checkpoint(b"garbage", identity).status == 400
    assert state.add_checkpoint(b"old 1\n\n" + note(t, 3).encode(), identity).status == 409
    assert state.logs[ORIGIN].size == 0


def test_a_known_origin_cannot_change_its_key(witness) -> None:  # type: ignore[no-untyped-def]
    _, state = witness
    assert state.register(ORIGIN, LOG_KEY).status == 200
    other = str(VerifierKey(ORIGIN, TYPE_ED25519, ed25519_public(bytes(32))))
    assert state.register(ORIGIN, other).status == 409
    assert state.register(ORIGIN, "not a key").status == 400


def test_the_witness_key_survives_restarts_and_a_mangled_file_is_one_error(tmp_path: Path) -> None:
    first = load_or_create_identity(tmp_path / "w")
    assert load_or_create_identity(tmp_path / "w").vkey == first.vkey
    assert ((tmp_path / "w" / "witness.json").stat().st_mode & 0o777) == 0o600
    (tmp_path / "w" / "witness.json").write_text("{}")
    with pytest.raises(ConfigError):
        load_or_create_identity(tmp_path / "w")
