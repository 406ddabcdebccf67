"""A validator that rewrites deep history and re-signs every block is caught by two witnesses' cosignatures."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from ledgerml.errors import ConfigError, NotFound
from ledgerml.home import Home
from ledgerml.types import Role
from ledgerml.verification import verify_home
from ledgerml.vocab.core import RoleGranted
from ledgerml.witness.home import COSIGNED_FILE, WitnessRefused, binding_digest, publish, trust_witness

from .._cli import one_error_line, run_cli
from ..conftest import make_identity


def _grow(home: Home, salt: int, count: int) -> None:
    with home.open_ledger() as ledger:
        for i in range(count):
            ledger.submit(home.identity(), RoleGranted(subject=make_identity("p", salt + i).address, role=Role.AUDITOR))
        ledger.seal()


def _rewrite_after_genesis(home: Home) -> None:
    """What whoever holds the home's keys can do: drop every event after genesis, write others, re-seal."""
    conn = sqlite3.connect(home.ledger_path)
    conn.execute("DELETE FROM blocks WHERE height > 0")
    conn.execute("DELETE FROM events WHERE seq >= 1")
    conn.execute("DELETE FROM checkpoints")
    conn.commit()
    conn.close()
    _grow(home, 9000, 4)
    _grow(home, 9100, 3)


@pytest.fixture
def witnessed(tmp_path: Path, start_witness: Callable[[str], str]) -> tuple[Home, list[str]]:
    home = Home(tmp_path / "home")
    home.init(unencrypted=True, block_size=1000, block_interval=3600)
    urls = [start_witness("w1"), start_witness("w2")]
    with home.open_ledger() as ledger:
        for url in urls:
            trust_witness(home, ledger, url)
    _grow(home, 100, 4)
    with home.open_ledger() as ledger:
        assert len(publish(home, ledger).cosigned_by) == 2
    _grow(home, 200, 3)
    with home.open_ledger() as ledger:
        assert len(publish(home, ledger).cosigned_by) == 2  # the witnesses' consistency proofs, from size 5 to 8
    return home, urls


def _verify(home: Home, k: int):  # type: ignore[no-untyped-def]
    with home.open_ledger(as_validator=False) as ledger:
        return verify_home(home, ledger, witnesses=k)


def test_an_honest_ledger_passes_with_two_witnesses(witnessed) -> None:  # type: ignore[no-untyped-def]
    home, _ = witnessed
    report = _verify(home, 2)
    assert report.ok, report.problem
    assert any("4 witness cosignature(s) checked" in n for n in report.notes)


def test_a_deep_rewrite_re_signed_by_the_validator_is_caught(witnessed) -> None:  # type: ignore[no-untyped-def]
    home, _ = witnessed
    _rewrite_after_genesis(home)
    with home.open_ledger(as_validator=False) as ledger:
        assert ledger.verify().ok  # self-consistent: every block re-signed by the validator key
    report = _verify(home, 2)
    assert not report.ok and report.location == "witnesses"
    assert "cosigned at size 5" in str(report.problem) and "witness.ledgerml.local/" in str(report.problem)
    result = run_cli("verify", "--witnesses", "2", "--home", str(home.path))
    assert result.code == 31 and one_error_line(result.err)
    assert "ledger verification failed at witnesses: history contradicts the checkpoint witness" in result.err


def test_a_checkpoint_key_not_bound_by_a_validator_fails(witnessed) -> None:  # type: ignore[no-untyped-def]
    home, _ = witnessed
    path = home.path / "checkpoint-key.json"
    document = json.loads(path.read_text())
    other = make_identity("mallory", 77)
    document["binding"] = "0x" + other.sign_digest(binding_digest(document["origin"][15:], document["vkey"])).hex()
    path.write_text(json.dumps(document))
    report = _verify(home, 2)
    assert not report.ok and f"bound by {other.address}, who is not a validator" in str(report.problem)


def test_the_witnesses_refuse_to_cosign_the_rewritten_history(witnessed) -> None:  # type: ignore[no-untyped-def]
    home, _ = witnessed
    _rewrite_after_genesis(home)
    stored = (home.path / COSIGNED_FILE).read_bytes()
    with home.open_ledger() as ledger, pytest.raises(WitnessRefused, match="HTTP 409: 8"):
        publish(home, ledger)  # the same size with another root
    _grow(home, 9200, 2)
    with home.open_ledger() as ledger, pytest.raises(WitnessRefused, match="HTTP 422"):
        publish(home, ledger)  # larger, but no consistency proof from the cosigned size 8 exists
    assert (home.path / COSIGNED_FILE).read_bytes() == stored


def test_dropping_the_cosignatures_does_not_hide_a_rewrite(witnessed) -> None:  # type: ignore[no-untyped-def]
    home, _ = witnessed
    _rewrite_after_genesis(home)
    (home.path / COSIGNED_FILE).unlink()
    report = _verify(home, 2)
    assert not report.ok and "cosigned by 0 trusted witness(es), 2 required" in str(report.problem)


def test_new_blocks_need_a_new_publish(witnessed) -> None:  # type: ignore[no-untyped-def]
    home, _ = witnessed
    _grow(home, 300, 2)
    assert "run 'ledgerml checkpoint publish'" in str(_verify(home, 1).problem)
    with home.open_ledger() as ledger:
        publish(home, ledger)
    assert _verify(home, 2).ok


def test_k_beyond_the_trusted_witnesses_and_unknown_urls_are_refused(witnessed) -> None:  # type: ignore[no-untyped-def]
    home, _ = witnessed
    with pytest.raises(ConfigError, match="more witnesses than the 2"):
        _verify(home, 3)
    with home.open_ledger() as ledger, pytest.raises(NotFound, match="not a trusted witness"):
        publish(home, ledger, ["http://127.0.0.1:9"])
    assert len(json.loads((home.path / COSIGNED_FILE).read_text())["checkpoints"]) == 2
