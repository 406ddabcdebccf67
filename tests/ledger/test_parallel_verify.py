"""Audits with signature recovery in worker processes report exactly what a one-process audit reports."""

from __future__ import annotations

import random
import shutil
import sqlite3
from pathlib import Path

import pytest

from ledgerml import DatasetRegistered, Ledger, RoleGranted, sign_event, sqlite_url
from ledgerml.errors import InvalidSignature, SignerMismatch
from ledgerml.identity import recover_signer
from ledgerml.ledger import signatures
from ledgerml.ledger.base import VerifyReport
from ledgerml.types import Role

from ..conftest import make_identity
from .test_tamper import mutate

ADMIN, OWNER, OTHER = make_identity("admin", 1), make_identity("owner", 2), make_identity("other", 3)


@pytest.fixture(scope="module")
def small_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("parallel") / "ledger.db"
    with Ledger.create(sqlite_url(path, block_size=9, block_interval=3600), admin=ADMIN) as ledger:
        ledger.submit(ADMIN, RoleGranted(subject=OWNER.address, role=Role.DATA_OWNER))
        payloads = [DatasetRegistered(dataset_id=f"sha256:{i:064x}", name=f"s{i}", license="MIT") for i in range(40)]
        ledger.submit_batch(OWNER, payloads)
        ledger.seal()
    return path


def audit(path: Path, workers: int, monkeypatch: pytest.MonkeyPatch) -> tuple[VerifyReport, int]:
    """The report with ``workers`` recovery processes, and how many rows used a worker's answer."""
    used = [0]
    real = signatures.check_recovered

    def counted(recovered: signatures.Recovered, actor: str) -> None:
        used[0] += 1
        real(recovered, actor)

    monkeypatch.setenv("LEDGERML_VERIFY_WORKERS", str(workers))
    monkeypatch.setattr(signatures, "CHUNK", 4)
    monkeypatch.setattr(signatures, "check_recovered", counted)
    with Ledger.open(sqlite_url(path)) as ledger:
        return ledger.verify(), used[0]


def test_split_body_finds_the_signed_digest_and_the_signature() -> None:
    event = sign_event(OWNER, "0" * 32, DatasetRegistered(dataset_id="sha256:" + "a" * 64, name='x,"signature":"0x'), 0)
    assert signatures.split_body(event.body) == (event.digest, event.signature)
    assert signatures.split_body(event.body.replace(b',"signature":"0x', b',"sig":"0x')) is None
    assert signatures.split_body(event.body[:-40]) is None


def test_recover_bodies_agrees_with_recover_signer() -> None:
    good = sign_event(OWNER, "0" * 32, DatasetRegistered(dataset_id="sha256:" + "b" * 64, name="b"), 0)
    (digest, signature, address), broken, missing = signatures.recover_bodies(
        [good.body, good.body.replace(b'"0x' + good.signature.hex().encode(), b'"0x' + b"0" * 130), b"{}"]
    )
    assert (digest, signature, address) == (good.digest, good.signature, recover_signer(good.digest, good.signature))
    assert broken is not None and broken[2].startswith("!") and missing is None
    with pytest.raises(InvalidSignature):
        signatures.check_recovered(broken, OWNER.address)
    with pytest.raises(SignerMismatch, match="was signed by"):
        signatures.check_recovered((digest, signature, address), OTHER.address)


def test_parallel_audit_of_an_intact_ledger(small_ledger: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sequential, _ = audit(small_ledger, 0, monkeypatch)
    parallel, used = audit(small_ledger, 2, monkeypatch)
    assert sequential.ok and parallel.to_dict() == sequential.to_dict()
    assert used == sequential.events_checked  # every signature came from a worker


def test_parallel_audit_reports_every_tampering_as_one_process_does(
    small_ledger: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(19)
    for trial in range(12):
        copy = tmp_path / f"t{trial}.db"
        shutil.copyfile(small_ledger, copy)
        with sqlite3.connect(copy) as conn:
            while True:
                try:
                    mutate(conn, rng)
                    break
                except sqlite3.IntegrityError:
                    conn.rollback()
        sequential, _ = audit(copy, 0, monkeypatch)
        parallel, _ = audit(copy, 1, monkeypatch)
        assert not sequential.ok and parallel.to_dict() == sequential.to_dict(), trial


def test_small_ledgers_and_threaded_callers_stay_in_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEDGERML_VERIFY_WORKERS", raising=False)
    assert signatures.verify_workers(signatures.PARALLEL_MIN_EVENTS - 1) == 0
    monkeypatch.setattr(signatures.threading, "active_count", lambda: 3)
    monkeypatch.setenv("LEDGERML_VERIFY_WORKERS", "2")
    assert signatures.verify_workers(10**6) == 0
