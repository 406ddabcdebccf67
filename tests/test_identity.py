"""Identities: EIP-191 signatures any Ethereum tool checks, keystores, bad input."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerml.errors import AlreadyExists, ConfigError, InvalidSignature, KeystoreError, NotFound
from ledgerml.identity import Identity, KeyStore, recover_signer


def test_signature_is_standard_eip191(alice: Identity) -> None:
    digest = hashlib.sha256(b"hello").digest()
    signature = alice.sign_digest(digest)
    # eth-account (what web3.py and wallets use) recovers the same address from our signature
    assert Account.recover_message(encode_defunct(primitive=digest), signature=signature) == alice.address
    # and our recovery accepts eth-account's signature
    theirs = Account.sign_message(encode_defunct(primitive=digest), alice.private_key).signature
    assert recover_signer(digest, bytes(theirs)) == alice.address


@settings(max_examples=30, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.integers(min_value=1, max_value=2**200))
def test_sign_recover_roundtrip(digest: bytes, secret: int) -> None:
    ident = Identity.from_private_key("x", secret.to_bytes(32, "big"))
    assert recover_signer(digest, ident.sign_digest(digest)) == ident.address


def test_address_matches_eth_account(alice: Identity) -> None:
    assert Account.from_key(alice.private_key).address == alice.address


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: s[:64],  # too short
        lambda s: s[:64] + bytes([29]),  # bad v
        lambda s: bytes(32) + s[32:],  # r = 0
        lambda s: s[:32] + (2**256 - 1).to_bytes(32, "big") + s[64:],  # s out of range
    ],
)
def test_malformed_signatures_are_rejected(alice: Identity, mutate) -> None:  # type: ignore[no-untyped-def]
    digest = hashlib.sha256(b"m").digest()
    with pytest.raises(InvalidSignature):
        recover_signer(digest, mutate(alice.sign_digest(digest)))


def test_other_digest_recovers_other_address(alice: Identity) -> None:
    signature = alice.sign_digest(hashlib.sha256(b"a").digest())
    assert recover_signer(hashlib.sha256(b"b").digest(), signature) != alice.address


def test_recovered_signers_are_cached_by_exact_digest_and_signature(alice: Identity, bob: Identity) -> None:
    """A cache hit is the answer a recovery gives: the same digest signed by another key, another digest with
    the same signature, a failure (never cached) and a digest/signature split at another byte (no 32 + 65
    pair, never looked up) all recover or fail on their own."""
    import ledgerml.identity as identity

    digest = hashlib.sha256(b"cached").digest()
    mine, theirs = alice.sign_digest(digest), bob.sign_digest(digest)
    assert recover_signer(digest, mine) == alice.address
    assert digest + mine in identity._RECOVERED
    assert recover_signer(digest, mine) == alice.address  # the hit
    assert recover_signer(digest, theirs) == bob.address
    assert recover_signer(hashlib.sha256(b"other").digest(), mine) not in (alice.address, bob.address)
    with pytest.raises(InvalidSignature):  # the same 97 bytes, split 31 + 66: refused, not found in the cache
        recover_signer(digest[:31], digest[31:] + mine)
    high_s = mine[:32] + (2**256 - 1).to_bytes(32, "big") + mine[64:]
    for _ in range(2):
        with pytest.raises(InvalidSignature):
            recover_signer(digest, high_s)
    assert digest + high_s not in identity._RECOVERED
    identity._RECOVERED.update({bytes([i % 256]) * 97 + bytes(i // 256): alice.address for i in range(5000)})
    recover_signer(hashlib.sha256(b"full").digest(), mine)
    assert len(identity._RECOVERED) <= identity._MAX_RECOVERED  # bounded


def test_encrypted_keystore_roundtrip(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    created = store.create("carol", "s3cret", kdf="pbkdf2")
    document = json.loads((tmp_path / "carol.json").read_text())
    assert document["version"] == 3 and "crypto" in document  # Web3 Secret Storage V3
    assert created.private_key.hex() not in (tmp_path / "carol.json").read_text()
    assert store.load("carol", "s3cret").address == created.address
    with pytest.raises(KeystoreError, match="wrong password"):
        store.load("carol", "nope")
    with pytest.raises(KeystoreError, match="encrypted"):
        store.load("carol", None)
    # any Ethereum tool opens it
    assert Account.decrypt(document, "s3cret") == created.private_key
    assert (tmp_path / "carol.json").stat().st_mode & 0o777 == 0o600


def test_unencrypted_keystore_is_labelled(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    created = store.create("demo", None, unencrypted=True)
    document = json.loads((tmp_path / "demo.json").read_text())
    assert document["ledgerml_unencrypted"] is True and "UNENCRYPTED" in document["warning"]
    assert store.load("demo", None).address == created.address
    assert [i.name for i in store.list()] == ["demo"] and not store.list()[0].encrypted


def test_keystore_bad_input_changes_nothing(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    store.create("dave", None, unencrypted=True)
    before = (tmp_path / "dave.json").read_bytes()
    with pytest.raises(AlreadyExists):
        store.create("dave", None, unencrypted=True)
    assert (tmp_path / "dave.json").read_bytes() == before
    with pytest.raises(KeystoreError, match="password"):
        store.create("erin", None)
    assert not (tmp_path / "erin.json").exists()
    with pytest.raises(ConfigError, match="invalid identity name"):
        store.create("../escape", None, unencrypted=True)
    with pytest.raises(NotFound):
        store.load("nobody", None)
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(KeystoreError, match="unreadable"):
        store.load("broken", "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.json", "dave.json"]


def test_a_new_keystore_holds_an_encryption_key_sealed_under_the_signing_key(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    made = store.create("enc", "pw", kdf="pbkdf2")
    loaded = store.load("enc", "pw")
    assert loaded.encryption_private_key == made.encryption_private_key and len(made.encryption_public_key) == 32
    document = json.loads((tmp_path / "enc.json").read_text())
    assert made.encryption_private_key.hex() not in json.dumps(document)  # never stored in the clear
    assert store.info("enc").encryption_public_key == made.encryption_public_key.hex()
    plain = store.create("plain", None, unencrypted=True)
    assert store.load("plain", None).encryption_private_key == plain.encryption_private_key


def test_a_damaged_or_moved_encryption_key_is_a_keystore_error(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    store.create("a", None, unencrypted=True)
    store.create("b", None, unencrypted=True)
    a_doc = json.loads((tmp_path / "a.json").read_text())
    b_doc = json.loads((tmp_path / "b.json").read_text())
    b_doc["ledgerml_encryption"] = a_doc["ledgerml_encryption"]  # a's sealed key pasted into b's keystore
    (tmp_path / "b.json").write_text(json.dumps(b_doc))
    with pytest.raises(KeystoreError, match="encryption key is damaged"):
        store.load("b", None)
    a_doc["ledgerml_encryption"]["sealed"] = "00" * 60
    (tmp_path / "a.json").write_text(json.dumps(a_doc))
    with pytest.raises(KeystoreError, match="encryption key is damaged"):
        store.load("a", None)


def test_an_old_keystore_gets_an_encryption_key_once(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    store.create("old", None, unencrypted=True)
    document = json.loads((tmp_path / "old.json").read_text())
    del document["ledgerml_encryption"]
    (tmp_path / "old.json").write_text(json.dumps(document))
    assert not store.load("old", None).has_encryption_key
    with pytest.raises(KeystoreError, match="register-key"):
        _ = store.load("old", None).encryption_private_key
    added = store.add_encryption_key("old", None)
    assert store.add_encryption_key("old", None).encryption_private_key == added.encryption_private_key
    assert oct((tmp_path / "old.json").stat().st_mode & 0o777) == "0o600"


def test_v3_import_keeps_the_keystore_and_export_strips_ledgerml_fields(tmp_path: Path) -> None:
    key = bytes.fromhex("6b" * 32)
    theirs = Account.encrypt(key, "their-pass", kdf="pbkdf2", iterations=1000)
    store = KeyStore(tmp_path)
    with pytest.raises(KeystoreError, match="wrong password"):
        store.import_v3("x", theirs, "wrong")
    with pytest.raises(KeystoreError, match="not a V3 keystore"):
        store.import_v3("x", {"version": 3}, "their-pass")
    imported = store.import_v3("x", theirs, "their-pass")
    assert imported.address == Account.from_key(key).address and imported.has_encryption_key
    assert store.load("x", "their-pass").encryption_private_key == imported.encryption_private_key
    exported = store.export_v3("x", "their-pass")
    assert exported["crypto"] == theirs["crypto"] and not any(k.startswith("ledgerml") for k in exported)
    with pytest.raises(AlreadyExists):
        store.import_v3("x", theirs, "their-pass")
