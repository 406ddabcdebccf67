"""``ledgerml contracts scan``: the JSON interface, table and SARIF output, bad inputs (one error per file, the
scan goes on, exit 1), and ``--record`` (a signed scan report on the ledger)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from ledgerml.analytics.contracts import scan as scan_module
from ledgerml.analytics.contracts.api import scan_contracts

from ..._cli import event_count, one_error_line, run_cli, snapshot

DATA = Path(__file__).parent / "data"
SCHEMA = DATA / "sarif-2.1.0-rtm.5.json"
FINDING_KEYS = {"file", "start_line", "end_line", "category", "swc", "confidence", "detectors", "explanation"}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A folder with two vulnerable contracts, a clean one, and every kind of bad input."""
    target = tmp_path / "contracts"
    (target / "sub").mkdir(parents=True)
    shutil.copy(DATA / "reentrancy.sol", target / "reentrancy.sol")
    shutil.copy(DATA / "clean.sol", target / "sub" / "clean.sol")
    (target / "garbage.sol").write_text("this is not { solidity ((( at all ;;; }}}\n" * 5)
    (target / "future.sol").write_text("pragma solidity ^0.9.1;\ncontract F { function f() public {} }\n")
    (target / "imports.sol").write_text('pragma solidity ^0.5.0;\nimport "./missing/Lib.sol";\ncontract I {}\n')
    (target / "binary.sol").write_bytes(b"\x7fELF\x00\x01\x02\x03" * 64)
    (target / "latin1.sol").write_bytes(b"pragma solidity ^0.5.0;\ncontract L { string s = '\xe9'; }\n")
    (target / "notes.txt").write_text("not scanned: not a .sol file")
    return target


def run_json(*args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    result = run_cli("contracts", "scan", *args, "--no-slither", "--json")
    assert "Traceback" not in result.err, result.err
    return result.code, json.loads(result.out)


def test_the_json_interface_on_a_folder_with_bad_files(folder: Path) -> None:
    code, document = run_json(str(folder))
    assert code == 1
    assert {"findings", "errors"} <= set(document)
    errors = {e["file"]: e["error"] for e in document["errors"]}
    assert set(errors) == {"garbage.sol", "future.sol", "imports.sol", "binary.sol", "latin1.sol"}
    assert "parse" in errors["garbage.sol"] or "no contract" in errors["garbage.sol"]
    assert errors["future.sol"].startswith("unknown pragma")
    assert "import './missing/Lib.sol' cannot be resolved" in errors["imports.sol"]
    assert errors["binary.sol"] == "binary data, not Solidity source"
    assert errors["latin1.sol"].startswith("not UTF-8")
    assert all("\n" not in e for e in errors.values())
    for finding in document["findings"]:
        assert set(finding) == FINDING_KEYS
        assert isinstance(finding["start_line"], int) and finding["start_line"] <= finding["end_line"]
        assert isinstance(finding["confidence"], float) and isinstance(finding["detectors"], list)
    files = {f["file"] for f in document["findings"]}
    assert files == {"reentrancy.sol"}  # relative to the scanned folder; the clean one has none
    assert "sub/clean.sol" not in errors


def test_exit_0_when_every_file_is_scanned_and_files_named_as_given(folder: Path) -> None:
    path = str(folder / "reentrancy.sol")
    code, document = run_json(path, str(folder / "sub"))
    assert code == 0 and document["errors"] == []
    assert {f["file"] for f in document["findings"]} == {path}
    assert any(f["category"] == "reentrancy" and f["swc"] == "SWC-107" for f in document["findings"])
    assert document["detectors"]["slither"].startswith("off")


def test_a_missing_path_and_a_huge_file_are_per_file_errors(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scan_module, "MAX_FILE_BYTES", 2000)
    huge = folder / "huge.sol"
    huge.write_text("pragma solidity ^0.5.0;\ncontract H {}\n" + "// padding\n" * 500)
    report = scan_contracts([huge, folder / "nope.sol", folder / "sub"], slither=False)
    errors = {e.file: e.error for e in report.errors}
    assert errors[str(folder / "nope.sol")] == "does not exist"
    assert "at most 2,000 are scanned" in errors[str(huge)]
    assert "clean.sol" in report.files and not report.ok


def test_table_output_lists_findings_errors_and_detectors(folder: Path) -> None:
    result = run_cli("contracts", "scan", str(folder), "--no-slither")
    assert result.code == 1 and "Traceback" not in result.err
    assert "reentrancy" in result.out and "detectors:" in result.out
    assert "not scanned: future.sol" in " ".join(result.out.split())
    assert one_error_line(result.err) and "could not be scanned" in result.err


def test_sarif_is_valid_against_the_schema(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "scan.sarif"
    result = run_cli("contracts", "scan", str(folder), "--no-slither", "--format", "sarif", "--out", str(out))
    assert result.code == 1, result.err
    log = json.loads(out.read_text())
    jsonschema.validate(log, json.loads(SCHEMA.read_text()))
    run = log["runs"][0]
    assert log["version"] == "2.1.0" and run["tool"]["driver"]["name"] == "ledgerml"
    assert any(r["ruleId"] == "reentrancy" for r in run["results"])
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert all(rules[r["ruleIndex"]] == r["ruleId"] for r in run["results"])
    assert run["invocations"][0]["executionSuccessful"] is False
    assert len(run["invocations"][0]["toolExecutionNotifications"]) == 5


def test_a_bad_format_or_confidence_is_one_error_line(folder: Path) -> None:
    for args in (["--format", "xml"], ["--min-confidence", "2"]):
        result = run_cli("contracts", "scan", str(folder), "--no-slither", *args)
        assert result.code == 2 and "Traceback" not in result.err
        assert next(line for line in result.err.splitlines() if line.strip()).startswith("error:")


def test_record_signs_a_scan_report_on_the_ledger(home: Path, folder: Path) -> None:
    from ledgerml.home import Home
    from ledgerml.vocab.scans import scans_of

    before = event_count(home)
    result = run_cli(
        "contracts", "scan", str(folder / "reentrancy.sol"), "--no-slither", "--json", "--record", "--home", str(home)
    )
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert event_count(home) == before + 1
    report = scan_contracts([folder / "reentrancy.sol"], slither=False)
    with Home.resolve(str(home)).open_ledger(as_validator=False) as ledger:
        recorded = scans_of(ledger.state(), report.contracts_digest())
    assert [event_id for event_id, _ in recorded] == [document["recorded"]]
    record = recorded[0][1]
    assert record.findings_digest == report.findings_digest() and record.model_id == report.model_id
    assert record.findings == len(document["findings"]) and record.files == 1


def test_record_without_a_home_changes_nothing(tmp_path: Path, folder: Path) -> None:
    result = run_cli(
        "contracts",
        "scan",
        str(folder / "reentrancy.sol"),
        "--no-slither",
        "--record",
        "--home",
        str(tmp_path / "no-home"),
    )
    assert result.code != 0 and "Traceback" not in result.err
    assert not (tmp_path / "no-home").exists()


def test_a_scan_with_unreadable_files_is_not_recorded(home: Path, folder: Path, tmp_path: Path) -> None:
    """Found by the command-tree fuzzer: exit 1 (a file could not be scanned) must change nothing."""
    before = snapshot(home)
    out = tmp_path / "report.json"
    result = run_cli(
        "contracts",
        "scan",
        str(folder / "reentrancy.sol"),
        str(tmp_path / "missing.sol"),
        "--no-slither",
        "--json",
        "--record",
        "--out",
        str(out),
        "--home",
        str(home),
    )
    assert result.code == 1 and one_error_line(result.err) and "nothing was recorded" in result.err, result.err
    assert snapshot(home) == before and "recorded" not in json.loads(out.read_text())


def test_a_changed_model_folder_is_refused_unless_unregistered(home: Path, tmp_path: Path) -> None:
    from ledgerml.analytics.contracts.model import bundled_model_dir

    model = tmp_path / "model"
    shutil.copytree(bundled_model_dir(), model)
    before = snapshot(home)
    args = (
        "contracts",
        "scan",
        str(DATA / "reentrancy.sol"),
        "--no-slither",
        "--json",
        "--model",
        str(model),
        "--home",
        str(home),
    )
    refused = run_cli(*args)
    assert refused.code == 3 and "not a model registered" in refused.err
    assert snapshot(home) == before
    assert run_cli(*args, "--unregistered").code == 0
    (model / "meta.json").write_text("{}")
    broken = run_cli(*args, "--unregistered")
    assert broken.code == 2 and "not a ledgerml contract model" in broken.err
