"""Sealed datasets end to end through the Python API: grants, revocation by rotation, the access log, and every
attack the issue lists - each a specific error with nothing changed and nothing decrypted."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from ledgerml.access import (
    DecryptionFailed,
    WrongKey,
    access_report,
    decrypt_dataset,
    grant_access,
    revoke_access,
    rotate_key,
)
from ledgerml.access.crypto import decrypt_chunks, unwrap_key, wrap_info
from ledgerml.access.formats import SealedDataset
from ledgerml.access.seal import file_context
from ledgerml.errors import (
    DuplicateRegistration,
    InvalidTransition,
    ReplayedNonce,
    TamperDetected,
    Unauthorized,
    UnknownReference,
)
from ledgerml.events import now_ms, sign_event
from ledgerml.state import next_nonce
from ledgerml.vocab.access import (
    AccessGranted,
    AccessRevoked,
    DataKeyRotated,
    DatasetEncrypted,
    GrantExpired,
    GrantRevoked,
    NoGrant,
    grant,
    may_use,
    sealed,
)

from .conftest import World, with_key


def unchanged(world: World):  # type: ignore[no-untyped-def]
    """A fingerprint of everything an attack must not change: the ledger's events and the store's objects."""
    return world.ledger.size, world.ledger.state().digest(), world.store.list()


def test_owner_seals_grantee_reads_and_every_release_is_logged(world: World, tmp_path: Path) -> None:
    result = world.seal()
    assert result.epoch == 0 and result.dataset_id == result.series
    assert world.data.read_bytes() not in b"".join(world.store.get(d) for d in world.store.list())
    grant_access(world.ledger, world.store, world.alice, result.dataset_id, world.bob.address, purpose="study")
    opened = decrypt_dataset(world.ledger, world.store, world.bob, result.dataset_id, tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_bytes() == world.data.read_bytes()
    assert opened.bytes == world.data.stat().st_size and opened.epoch == 0
    report = access_report(world.ledger, result.dataset_id)
    assert [g["grantee"] for g in report["grants"]] == [world.bob.address]
    assert [(u["reader"], u["epoch"]) for u in report["uses"]] == [(world.bob.address, 0)]
    assert report["grants"][0]["purpose"] == "study" and report["owner"] == world.alice.address


def test_decrypting_without_a_grant_is_refused(world: World, tmp_path: Path) -> None:
    result = world.seal()
    before = unchanged(world)
    with pytest.raises(NoGrant, match="holds no grant"):
        decrypt_dataset(world.ledger, world.store, world.bob, result.dataset_id, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists() and unchanged(world) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_revocation_rotates_and_the_next_version_is_unreadable_to_the_revoked(world: World, tmp_path: Path) -> None:
    first = world.seal()
    for reader in (world.bob, world.carol):
        grant_access(world.ledger, world.store, world.alice, first.dataset_id, reader.address)
    ciphertexts = set(world.store.list())
    rotation = revoke_access(world.ledger, world.store, world.alice, first.dataset_id, world.bob.address)
    assert rotation.epoch == 1 and set(rotation.readers) == {world.alice.address, world.carol.address}
    assert ciphertexts <= set(world.store.list()) and len(world.store.list()) == len(ciphertexts) + 1  # one bundle
    before = unchanged(world)
    with pytest.raises(GrantRevoked, match="revoked in epoch 0"):
        decrypt_dataset(world.ledger, world.store, world.bob, first.dataset_id, tmp_path / "bob.csv")
    assert unchanged(world) == before and not (tmp_path / "bob.csv").exists()
    newer = tmp_path / "v2.csv"
    newer.write_text("age,outcome\n44,1\n")
    second = world.seal(newer, version_of=first.dataset_id)
    assert second.epoch == 1 and second.series == first.dataset_id
    decrypt_dataset(world.ledger, world.store, world.carol, second.dataset_id, tmp_path / "carol.csv")
    assert (tmp_path / "carol.csv").read_bytes() == newer.read_bytes()
    decrypt_dataset(world.ledger, world.store, world.carol, first.dataset_id, tmp_path / "carol-v1.csv")  # key chain
    # even bypassing ledgerml, the key bob was given (epoch 0) does not open what was sealed after his revocation
    record = grant(world.ledger.state(), first.dataset_id, world.bob.address)
    assert record is not None
    info = wrap_info(world.ledger.ledger_id, first.dataset_id, 0, world.bob.address)
    old_key = unwrap_key(world.store.get(record.wrapped_key), world.bob.encryption_private_key, info)
    descriptor = SealedDataset.from_bytes(world.store.get(sealed(world.ledger.state(), second.dataset_id).sealed))  # type: ignore[union-attr]
    blob = world.store.get(descriptor.files[0].ciphertext)
    context = file_context(descriptor.seal_id, descriptor.files[0].path)
    with pytest.raises(DecryptionFailed, match="chunk 0"):
        list(decrypt_chunks(old_key, context, io.BytesIO(blob)))


def test_expired_grant_is_refused(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = world.seal()
    grant_access(
        world.ledger, world.store, world.alice, result.dataset_id, world.bob.address, expires=now_ms() + 60_000
    )
    before = unchanged(world)
    later = now_ms() + 120_000
    monkeypatch.setattr("ledgerml.access._ledger.now_ms", lambda: later)
    with pytest.raises(GrantExpired, match="expired"):
        decrypt_dataset(world.ledger, world.store, world.bob, result.dataset_id, tmp_path / "out.csv")
    assert unchanged(world) == before and not (tmp_path / "out.csv").exists()
    assert not may_use(world.ledger.state(), result.dataset_id, world.bob.address, later)
    assert may_use(world.ledger.state(), result.dataset_id, world.bob.address, now_ms())


def test_a_wrong_encryption_key_is_refused(world: World, tmp_path: Path) -> None:
    result = world.seal()
    grant_access(world.ledger, world.store, world.alice, result.dataset_id, world.bob.address)
    impostor = with_key(world.bob, 99)
    before = unchanged(world)
    with pytest.raises(WrongKey, match="not the one registered"):
        decrypt_dataset(world.ledger, world.store, impostor, result.dataset_id, tmp_path / "out.csv")
    assert unchanged(world) == before and not (tmp_path / "out.csv").exists()


def _ciphertext_path(world: World, dataset_id: str) -> Path:
    descriptor = SealedDataset.from_bytes(world.store.get(sealed(world.ledger.state(), dataset_id).sealed))  # type: ignore[union-attr]
    return world.store.path_of(descriptor.files[0].ciphertext)


def test_a_tampered_chunk_is_named_and_nothing_is_written(world: World, tmp_path: Path) -> None:
    result = world.seal()
    grant_access(world.ledger, world.store, world.alice, result.dataset_id, world.bob.address)
    path = _ciphertext_path(world, result.dataset_id)
    path.chmod(0o644)
    blob = bytearray(path.read_bytes())
    blob[44 + 2 * (4096 + 16) + 5] ^= 0x40  # a byte of chunk 2
    path.write_bytes(bytes(blob))
    before = unchanged(world)
    with pytest.raises(DecryptionFailed, match=r"patients\.csv: chunk 2 fails authentication"):
        decrypt_dataset(world.ledger, world.store, world.bob, result.dataset_id, tmp_path / "out.csv")
    assert unchanged(world) == before and not (tmp_path / "out.csv").exists()
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".out.csv")] == []


def test_a_swapped_wrapped_key_does_not_open(world: World, tmp_path: Path) -> None:
    """A grant whose wrapped key is another reader's (a buggy or malicious owner tool) opens nothing for bob."""
    result = world.seal()
    grant_access(world.ledger, world.store, world.alice, result.dataset_id, world.carol.address)
    carols = grant(world.ledger.state(), result.dataset_id, world.carol.address)
    assert carols is not None
    swapped = AccessGranted(
        dataset_id=result.dataset_id,
        grantee=world.bob.address,
        epoch=0,
        wrapped_key=carols.wrapped_key,
        recipient_key=world.bob.encryption_public_key.hex(),
    )
    world.ledger.submit(world.alice, swapped)
    before = unchanged(world)
    with pytest.raises(DecryptionFailed, match="made for another reader"):
        decrypt_dataset(world.ledger, world.store, world.bob, result.dataset_id, tmp_path / "out.csv")
    assert unchanged(world) == before and not (tmp_path / "out.csv").exists()


def test_a_stored_wrapped_key_replaced_is_tamper(world: World, tmp_path: Path) -> None:
    result = world.seal()
    grant_access(world.ledger, world.store, world.alice, result.dataset_id, world.bob.address)
    record = grant(world.ledger.state(), result.dataset_id, world.bob.address)
    assert record is not None
    path = world.store.path_of(record.wrapped_key)
    path.chmod(0o644)
    path.write_bytes(bytes(80))
    with pytest.raises(TamperDetected):
        decrypt_dataset(world.ledger, world.store, world.bob, result.dataset_id, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


def test_only_the_owner_grants_and_only_to_registered_keys(world: World) -> None:
    result = world.seal()
    before = unchanged(world)
    with pytest.raises(Unauthorized, match="only the owner"):
        grant_access(world.ledger, world.store, world.carol, result.dataset_id, world.bob.address)
    with pytest.raises(UnknownReference, match="no grant to an unknown key"):
        grant_access(world.ledger, world.store, world.alice, result.dataset_id, world.dave.address)
    with pytest.raises(UnknownReference, match="not sealed"):
        grant_access(world.ledger, world.store, world.alice, "sha256:" + "ab" * 32, world.bob.address)
    assert unchanged(world) == before


def test_replayed_and_stale_grants_are_refused(world: World) -> None:
    result = world.seal()
    receipt = grant_access(world.ledger, world.store, world.alice, result.dataset_id, world.bob.address)
    granted = world.ledger.get_event(receipt.event_id).event
    before = unchanged(world)
    with pytest.raises(ReplayedNonce):
        world.ledger.append(granted)
    revoke_access(world.ledger, world.store, world.alice, result.dataset_id, world.bob.address)
    before = unchanged(world)
    stale = sign_event(
        world.alice,
        world.ledger.ledger_id,
        granted.typed_payload(),
        next_nonce(world.ledger.state(), world.alice.address),
    )
    with pytest.raises(InvalidTransition, match=r"epoch 0 .* is closed \(revocation is final for it\)"):
        world.ledger.append(stale)
    assert unchanged(world) == before


def test_rotation_must_wrap_for_the_owner_and_live_grantees_exactly(world: World) -> None:
    result = world.seal()
    grant_access(world.ledger, world.store, world.alice, result.dataset_id, world.bob.address)
    world.ledger.submit(world.alice, AccessRevoked(dataset_id=result.dataset_id, grantee=world.bob.address))
    before = unchanged(world)
    keys = "sha256:" + "cd" * 32
    with_revoked = sorted([world.alice.address, world.bob.address])
    with pytest.raises(InvalidTransition, match="live grantees exactly"):
        world.ledger.submit(
            world.alice, DataKeyRotated(dataset_id=result.dataset_id, epoch=1, keys=keys, readers=with_revoked)
        )
    with pytest.raises(InvalidTransition, match="next key epoch"):
        world.ledger.submit(
            world.alice, DataKeyRotated(dataset_id=result.dataset_id, epoch=2, keys=keys, readers=[world.alice.address])
        )
    assert unchanged(world) == before


def test_nothing_is_sealed_under_a_key_a_revoked_party_holds(world: World, tmp_path: Path) -> None:
    result = world.seal()
    grant_access(world.ledger, world.store, world.alice, result.dataset_id, world.bob.address)
    world.ledger.submit(world.alice, AccessRevoked(dataset_id=result.dataset_id, grantee=world.bob.address))
    newer = tmp_path / "v2.csv"
    newer.write_text("age,outcome\n1,1\n")
    before = unchanged(world)
    with pytest.raises(InvalidTransition, match="rotate the data key before sealing"):
        world.seal(newer, version_of=result.dataset_id)
    assert unchanged(world) == before
    rotate_key(world.ledger, world.store, world.alice, result.dataset_id)
    assert world.seal(newer, version_of=result.dataset_id).epoch == 1


def test_sealing_by_a_non_owner_stores_nothing(world: World) -> None:
    before = unchanged(world)
    with pytest.raises(Unauthorized, match="data_owner"):
        from ledgerml.access import seal_dataset

        seal_dataset(world.ledger, world.store, world.bob, world.data)
    assert unchanged(world) == before


def test_a_sealed_version_cannot_be_sealed_twice(world: World) -> None:
    result = world.seal()
    before = unchanged(world)
    with pytest.raises(DuplicateRegistration, match="registered already"):
        world.seal()  # refused after the one encryption pass: what it stored is removed again
    assert unchanged(world) == before
    with pytest.raises(DuplicateRegistration, match="sealed already"):
        world.ledger.submit(
            world.alice,
            DatasetEncrypted(dataset_id=result.dataset_id, series=result.dataset_id, epoch=0, sealed=result.sealed),
        )


def test_a_folder_seals_and_opens_whole(world: World, tmp_path: Path) -> None:
    folder = tmp_path / "ward"
    (folder / "scans").mkdir(parents=True)
    (folder / "a.csv").write_text("x,y\n1,2\n")
    (folder / "scans" / "b.bin").write_bytes(bytes(range(256)) * 40)
    result = world.seal(folder)
    grant_access(world.ledger, world.store, world.alice, result.dataset_id, world.bob.address)
    out = tmp_path / "opened"
    opened = decrypt_dataset(world.ledger, world.store, world.bob, result.dataset_id, out)
    assert opened.files == 2
    assert (out / "scans" / "b.bin").read_bytes() == (folder / "scans" / "b.bin").read_bytes()
    assert (out / "a.csv").read_text() == "x,y\n1,2\n"


def test_federations_may_use_own_or_granted_sealed_data_only(world: World) -> None:
    result = world.seal()
    state = world.ledger.state()
    assert may_use(state, result.dataset_id, world.alice.address, now_ms())
    assert not may_use(state, result.dataset_id, world.bob.address, now_ms())
    grant_access(world.ledger, world.store, world.alice, result.dataset_id, world.bob.address)
    assert may_use(world.ledger.state(), result.dataset_id, world.bob.address, now_ms())
    revoke_access(world.ledger, world.store, world.alice, result.dataset_id, world.bob.address)
    assert not may_use(world.ledger.state(), result.dataset_id, world.bob.address, now_ms())
    assert not may_use(world.ledger.state(), "sha256:" + "00" * 32, world.alice.address, now_ms())


def test_a_distributed_ledger_is_refused_in_one_line(world: World, tmp_path: Path) -> None:
    """The access kinds are not on chain: on an EVM ledger every access call refuses before doing anything."""
    from dataclasses import replace

    from ledgerml.errors import ConfigError

    result = world.seal()
    distributed = replace(world.ledger.capabilities, distributed=True)
    world.ledger.capabilities = distributed  # type: ignore[misc]
    before = unchanged(world)
    for call in (
        lambda: world.seal(),
        lambda: grant_access(world.ledger, world.store, world.alice, result.dataset_id, world.bob.address),
        lambda: decrypt_dataset(world.ledger, world.store, world.alice, result.dataset_id, tmp_path / "x.csv"),
        lambda: access_report(world.ledger, result.dataset_id),
    ):
        with pytest.raises(ConfigError, match="embedded SQLite ledger only"):
            call()
    assert unchanged(world) == before


def test_fingerprints_and_record_proofs_keep_working_on_sealed_data(world: World, tmp_path: Path) -> None:
    from ledgerml.provenance import build_manifest, check_record_proof, prove_record, verify_dataset

    result = world.seal()
    assert result.dataset_id == str(build_manifest(world.data).digest)  # the id commits to the plaintext
    world.ledger.seal()
    report = verify_dataset(world.ledger, world.store, world.data)
    assert report.ok, report
    grant_access(world.ledger, world.store, world.alice, result.dataset_id, world.bob.address)
    (tmp_path / "bob").mkdir()
    opened = tmp_path / "bob" / world.data.name  # the manifest names the file: the reader keeps its name
    decrypt_dataset(world.ledger, world.store, world.bob, result.dataset_id, opened)
    proof = prove_record(opened, 41, ledger=world.ledger)  # a reader proves one row it read
    summary = check_record_proof(proof, {world.admin.address})
    assert summary["dataset_id"] == result.dataset_id and summary["row"] == 41
