"""``ledgerml audit open``, ``ledgerml fl answer-open`` and ``ledgerml audit opening`` on a tiny secure federation:
the audited opening of one input end to end, a tampered opening caught, and every bad input one error line that
changes nothing in the home."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledgerml.federated.plan import load_plan
from ledgerml.federated.runner import FederationConfig, setup_federation
from ledgerml.home import Home
from tests._cli import Result, one_error_line, run_cli, snapshot
from tests.federated.secure.test_secure_rounds import TASK, _home, _run

pytestmark = pytest.mark.slow  # one secure round of 3 clients, built once per module (about 5 s)
PLAIN = "plain"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with a finalized one-round secure task, an auditor, and a planned (unrun) plaintext task."""
    from ledgerml import RoleGranted
    from ledgerml.types import Role

    home = _home(tmp_path_factory.mktemp("secure"), participants=3)
    _run(home)
    setup_federation(home, FederationConfig(task_id=PLAIN, participants=2, rounds=1), unencrypted=True)
    auditor = home.keys.create("auditor", None, unencrypted=True)
    with home.open_ledger() as ledger:
        ledger.submit(home.identity(home.config().admin), RoleGranted(subject=auditor.address, role=Role.AUDITOR))
    return home.path


@pytest.fixture
def home(built: Path, tmp_path: Path) -> Iterator[Path]:
    """A private copy of the built home."""
    copy = tmp_path / "home"
    shutil.copytree(built, copy)
    yield copy


def _name(home: Path, index: int = 1) -> str:
    return load_plan(Home(home), TASK).participants[index].name


def _files(home: Path) -> tuple[list[str], dict[str, str]]:
    """The ledger as SQL and every other file's digest: equal results, nothing changed."""
    others = {
        str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(home.rglob("*"))
        if p.is_file() and not p.name.startswith("ledger.db")
    }
    return snapshot(home), others


def _ask(home: Path, name: str, *extra: str) -> Result:
    args = ["audit", "open", TASK, "--round", "1", "--participant", name, "--as", "auditor", "--home", str(home)]
    return run_cli(*args, "--reason", "spot check", "--json", *extra)


def _answer(home: Path, name: str) -> Result:
    return run_cli("fl", "answer-open", TASK, "--round", "1", "--as", name, "--home", str(home), "--json")


def _check(home: Path, name: str) -> Result:
    return run_cli("audit", "opening", TASK, "--round", "1", "--participant", name, "--home", str(home), "--json")


def test_an_auditor_opens_one_input_and_checks_it_from_the_cli(home: Path) -> None:
    name = _name(home)
    asked = _ask(home, name)
    assert asked.code == 0, asked.err
    request = asked.json()
    assert request["reason"] == "spot check" and request["participant"] == Home(home).resolve_address(name)
    answered = _answer(home, name)
    assert answered.code == 0, answered.err
    checked = _check(home, name)
    assert checked.code == 0, checked.err
    report = checked.json()
    assert report["ok"] and report["commitment_ok"] and report["within_bound"]
    assert report["weight"] > 0 and 0 < report["norm"] <= report["bound"]


def test_an_opening_that_does_not_match_its_commitment_fails_the_audit(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ledgerml.federated import secagg_open

    name = _name(home)
    assert _ask(home, name).code == 0
    assert _answer(home, name).code == 0
    monkeypatch.setattr(secagg_open, "plaintext_commitment", lambda salt, opened: "0" * 64)
    result = _check(home, name)
    assert result.code == 34 and one_error_line(result.err)
    assert "plaintext commitment" in result.err


def test_an_opened_input_over_the_norm_bound_fails_the_audit(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ledgerml.federated.secure import quantize

    real = quantize.decode_one
    name = _name(home)
    assert _ask(home, name).code == 0
    assert _answer(home, name).code == 0
    monkeypatch.setattr(quantize, "decode_one", lambda v, bits: (real(v, bits)[0] * 100.0, real(v, bits)[1]))
    result = _check(home, name)
    assert result.code == 34 and one_error_line(result.err) and "norm" in result.err, result.err


def test_an_opening_with_the_wrong_mask_key_fails_the_audit(home: Path) -> None:
    name, other = _name(home, 1), _name(home, 2)
    assert _ask(home, name).code == 0
    vault = home / "secagg"
    (vault / name / f"{TASK}-1.json").write_bytes((vault / other / f"{TASK}-1.json").read_bytes())
    assert _answer(home, name).code == 0
    result = _check(home, name)
    assert result.code == 34 and one_error_line(result.err) and "does not open it" in result.err, result.err


def _bad_cases(home: Path) -> list[tuple[list[str], str, int]]:
    name = _name(home)
    h = ["--home", str(home)]
    ask = ["audit", "open", "--participant", name, "--as", "auditor", *h]
    return [
        ([*ask, "nosuch", "--round", "1"], "does not exist", 18),
        ([*ask, PLAIN, "--round", "1"], "does not use secure aggregation", 2),
        ([*ask, TASK, "--round", "2"], "not finalized", 19),
        ([*ask, TASK, "--round", "0"], "not finalized", 19),
        (["audit", "open", TASK, "--round", "1", "--participant", name, "--as", name, *h], "auditor", 14),
        (["audit", "open", TASK, "--round", "1", "--participant", "nobody", "--as", "auditor", *h], "nobody", 3),
        (["audit", "open", TASK, "--round", "1", "--participant", "auditor", "--as", "auditor", *h], "no masked", 19),
        (["audit", "open", TASK, "--round", "1", "--participant", name, "--as", "ghost", *h], "ghost", 3),
        (["fl", "answer-open", TASK, "--round", "1", "--as", name, *h], "no auditor asked", 2),
        (["audit", "opening", TASK, "--round", "1", "--participant", name, *h], "no auditor asked", 3),
        (["audit", "opening", PLAIN, "--round", "1", "--participant", name, *h], "does not use secure", 2),
        (["audit", "opening", TASK, "--round", "3", "--participant", name, *h], "not finalized", 19),
        (["audit", "opening", TASK, "--round", "1", "--participant", "auditor", *h], "took no part", 3),
    ]


def test_every_bad_input_is_one_error_line_and_changes_nothing(home: Path) -> None:
    before = _files(home)
    for args, needle, code in _bad_cases(home):
        result = run_cli(*args)
        assert result.code == code and one_error_line(result.err), (args, result.code, result.err)
        assert needle in result.err, (args, result.err)
        assert _files(home) == before, args


def test_no_answer_yet_a_second_request_or_a_second_answer_is_refused(home: Path) -> None:
    name = _name(home)
    assert _ask(home, name).code == 0
    before = _files(home)
    for result, needle, code in ((_check(home, name), "has not answered", 3), (_ask(home, name), "asked already", 17)):
        assert result.code == code and one_error_line(result.err), result.err
        assert needle in result.err
        assert _files(home) == before
    assert _answer(home, name).code == 0
    before = _files(home)
    again = _answer(home, name)
    assert again.code == 17 and one_error_line(again.err) and "already" in again.err
    assert _files(home) == before


def test_an_answer_without_kept_secrets_is_refused(home: Path) -> None:
    name = _name(home)
    assert _ask(home, name).code == 0
    (home / "secagg" / name / f"{TASK}-1.json").unlink()
    before = _files(home)
    result = _answer(home, name)
    assert result.code == 3 and one_error_line(result.err) and "no secure-aggregation secrets" in result.err
    assert _files(home) == before
