"""C2SP signed-note and cosignature formats against the specifications' and reference implementations' vectors."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledgerml.witness.checkpoint import (
    Checkpoint,
    cosign,
    cosignature_by,
    cosignature_timestamp,
    cosigned_message,
    cosigners,
    parse_add_checkpoint,
    parse_checkpoint_text,
    verify_cosignature,
)
from ledgerml.witness.note import (
    TYPE_COSIGNATURE_V1,
    TYPE_ED25519,
    Note,
    NoteError,
    VerifierKey,
    ed25519_public,
    parse_note,
    parse_signature_line,
    parse_signer_key,
    sign_note_text,
    verify_ed25519_note,
)

VECTORS = Path(__file__).parents[1] / "golden" / "c2sp"


def vector(name: str) -> str:
    return (VECTORS / name).read_text(encoding="utf-8")


def test_the_signed_note_spec_example_verifies() -> None:
    key = VerifierKey.parse(vector("signed-note-example.vkey").strip())
    note = parse_note(vector("signed-note-example.note"))
    assert (key.name, key.key_type, key.id.hex()) == ("example.com/foo", TYPE_ED25519, "530d903a")
    assert str(key) == vector("signed-note-example.vkey").strip()
    assert note.text == "This is an example message.\n"
    assert verify_ed25519_note(note, key)
    assert note.encode() == vector("signed-note-example.note")


def test_signing_reproduces_the_go_note_byte_for_byte() -> None:
    name, seed = parse_signer_key(vector("go-note-peter.skey").strip())
    text = parse_note(vector("go-note.note")).text
    signature = sign_note_text(text, name, seed)
    peter = VerifierKey.parse(vector("go-note-peter.vkey").strip())
    assert ed25519_public(seed) == peter.public_key
    assert signature.line() == vector("go-note.note").splitlines(keepends=True)[-2]


def test_the_go_note_verifies_under_both_keys_and_fails_when_changed() -> None:
    note = parse_note(vector("go-note.note"))
    for file in ("go-note-peter.vkey", "go-note-enoch.vkey"):
        assert verify_ed25519_note(note, VerifierKey.parse(vector(file).strip()))
    changed = parse_note(vector("go-note.note").replace("cryptography", "cryptographY"))
    with pytest.raises(NoteError, match="does not verify"):
        verify_ed25519_note(changed, VerifierKey.parse(vector("go-note-peter.vkey").strip()))


def test_an_unknown_key_is_ignored_not_trusted() -> None:
    note = parse_note(vector("signed-note-example.note"))
    other = VerifierKey("example.com/foo", TYPE_ED25519, ed25519_public(bytes(32)))
    assert not verify_ed25519_note(note, other)  # same name, other key ID: ignored


def test_the_cosignature_vectors_parse() -> None:
    key = VerifierKey.parse(vector("cosignature-remora.vkey").strip())
    assert (key.key_type, key.id.hex()) == (TYPE_COSIGNATURE_V1, "da77ade7")
    raw = base64.b64decode(vector("cosignature-1727964367.sig").strip())
    line = parse_signature_line(f"\u2014 w {base64.b64encode(raw).decode()}")
    assert cosignature_timestamp(line) == 1727964367


def test_the_cosigned_message_is_the_specs() -> None:
    text = parse_note(vector("tlog-checkpoint-example.note")).text
    assert cosigned_message(text, 1679315147).decode() == vector("tlog-cosignature-message.txt")


def test_the_checkpoint_and_witness_request_examples_parse() -> None:
    checkpoint = parse_checkpoint_text(parse_note(vector("tlog-checkpoint-example.note")).text)
    assert (checkpoint.origin, checkpoint.size) == ("example.com/behind-the-sofa", 20852163)
    assert checkpoint.text() == vector("tlog-checkpoint-example.note").split("\n\n")[0] + "\n"
    request = parse_add_checkpoint(vector("tlog-witness-add-checkpoint.txt").encode())
    assert request.old_size == 20852014 and len(request.proof) == 4
    assert len(parse_note(request.note).signatures) == 2
    assert request.encode() == vector("tlog-witness-add-checkpoint.txt").encode()


def test_our_checkpoint_note_is_stable(golden) -> None:  # type: ignore[no-untyped-def]
    seed, witness_seed = bytes(range(32)), bytes(range(32, 64))
    checkpoint = Checkpoint("ledgerml.local/" + "ab" * 16, 42, bytes(range(100, 132)))
    signed = sign_note_text(checkpoint.text(), checkpoint.origin, seed)
    cosignature = cosign(checkpoint.text(), "witness.example/w1", witness_seed, 1_700_000_000)
    golden("c2sp/ledgerml-checkpoint.note", Note(checkpoint.text(), (signed, cosignature)).encode())


@given(
    size=st.integers(0, 2**63 - 1),
    root=st.binary(min_size=32, max_size=32),
    seed=st.binary(min_size=32, max_size=32),
    stamp=st.integers(0, 2**63 - 1),
)
def test_checkpoints_and_cosignatures_round_trip(size: int, root: bytes, seed: bytes, stamp: int) -> None:
    checkpoint = Checkpoint("example.org/log", size, root)
    assert parse_checkpoint_text(checkpoint.text()) == checkpoint
    sig = cosign(checkpoint.text(), "w.example/1", seed, stamp)
    key = VerifierKey("w.example/1", TYPE_COSIGNATURE_V1, ed25519_public(seed))
    assert VerifierKey.parse(str(key)) == key
    assert verify_cosignature(key, checkpoint.text(), sig) == stamp
    note = Note(checkpoint.text(), (sig,)).encode()
    assert parse_note(note).encode() == note
    assert cosigners(note, [key]) == {"w.example/1": stamp}


def test_cosignature_by_takes_the_keys_first_line_and_reads_no_further() -> None:
    seed, other = bytes(32), b"\x02" * 32
    key = VerifierKey("w", TYPE_COSIGNATURE_V1, ed25519_public(seed))
    good, bad = Checkpoint("o", 3, bytes(32)).text(), Checkpoint("o", 3, b"\x01" * 32).text()
    stranger, mine, forged = cosign(good, "v", other, 1), cosign(good, "w", seed, 5), cosign(bad, "w", seed, 6)
    assert cosignature_by(key, good, [stranger]) is None and cosignature_by(key, good, []) is None
    assert cosignature_by(key, good, [stranger, mine, forged]) == mine

    def lines():  # type: ignore[no-untyped-def]
        yield mine
        raise AssertionError("read past the key's valid line")

    assert cosignature_by(key, good, lines()) == mine
    with pytest.raises(NoteError, match="does not verify"):
        cosignature_by(key, good, [stranger, forged, mine])


def test_a_cosignature_over_another_root_fails() -> None:
    seed = bytes(32)
    key = VerifierKey("w", TYPE_COSIGNATURE_V1, ed25519_public(seed))
    good, bad = Checkpoint("o", 3, bytes(32)).text(), Checkpoint("o", 3, b"\x01" * 32).text()
    with pytest.raises(NoteError, match="does not verify"):
        verify_cosignature(key, bad, cosign(good, "w", seed, 5))


@pytest.mark.parametrize(
    "text",
    [
        "no blank line\n",
        "text\n\n\u2014 a\n",
        "text\n\n\u2014 a b c\n",
        "text\n\n\u2014 a !!!!\n",
        "text\n\n- a AAAAAAAA\n",
        "text\x01\n\n\u2014 a AAAAAAAA\n",
        "text\n\n\u2014 a AAAAAAAA",
    ],
)
def test_malformed_notes_are_one_error(text: str) -> None:
    with pytest.raises(NoteError):
        parse_note(text)


@pytest.mark.parametrize(
    "vkey",
    [
        "example.com/foo",
        "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example.com/foo+530D903A+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "a b+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2",
    ],
)
def test_malformed_verifier_keys_are_refused(vkey: str) -> None:
    with pytest.raises(NoteError):
        VerifierKey.parse(vkey)


@pytest.mark.parametrize(
    "text",
    ["o\n01\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", "o\n1\nAAAA\n", "\n1\nx\n", "o\n1\nAAAA\next\n"],
)
def test_malformed_checkpoints_are_refused(text: str) -> None:
    with pytest.raises(NoteError):
        parse_checkpoint_text(text)
