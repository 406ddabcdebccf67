"""The scanner on small contracts written for the tests: each finds its category on the vulnerable line; the
clean contract (checks-effects-interactions, an owner modifier, checked call, Solidity 0.8) gets no finding."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledgerml.analytics.contracts.api import scan_contracts
from ledgerml.analytics.contracts.scan import ScanReport

DATA = Path(__file__).parent / "data"
EXPECTED = [
    ("reentrancy.sol", "reentrancy", 12),
    ("access_control.sol", "access_control", 11),  # anyone can change the owner
    ("access_control.sol", "access_control", 15),  # tx.origin
    ("access_control.sol", "access_control", 20),  # selfdestruct
    ("arithmetic.sol", "arithmetic", 13),
    ("unchecked.sol", "unchecked_low_level_calls", 10),
    ("unchecked.sol", "unchecked_low_level_calls", 15),
    ("denial_of_service.sol", "denial_of_service", 14),
    ("bad_randomness.sol", "bad_randomness", 8),
    ("front_running.sol", "front_running", 9),
    ("time_manipulation.sol", "time_manipulation", 8),
    ("time_manipulation.sol", "time_manipulation", 10),
]


@pytest.fixture(scope="module")
def report() -> ScanReport:
    return scan_contracts([DATA], slither=False)


@pytest.mark.parametrize(("file", "category", "line"), EXPECTED)
def test_each_vulnerability_is_found_on_its_line(report: ScanReport, file: str, category: str, line: int) -> None:
    found = [f for f in report.findings if f.file == file and f.category == category]
    assert any(f.start_line <= line <= f.end_line for f in found), [(f.start_line, f.category) for f in found]


def test_the_clean_contract_has_no_finding(report: ScanReport) -> None:
    assert [f for f in report.findings if f.file == "clean.sol"] == []


def test_reentrancy_is_not_reported_when_state_is_written_first(report: ScanReport) -> None:
    withdraw = [f for f in report.findings if f.file == "clean.sol" and f.category == "reentrancy"]
    assert withdraw == []


def test_findings_say_who_raised_them_and_why(report: ScanReport) -> None:
    for finding in report.findings:
        assert finding.detectors and all(
            d.split(":")[0] in ("ledgerml-rules", "ledgerml-model") for d in finding.detectors
        )
        assert finding.explanation and 0.5 <= finding.confidence <= 1.0
    assert report.detectors["slither"].startswith("off")
    assert report.ok and len(report.files) == 9


def test_rules_alone_find_the_textbook_cases() -> None:
    rules_only = scan_contracts([DATA / "reentrancy.sol", DATA / "access_control.sol"], use_model=False, slither=False)
    categories = {(f.file.rsplit("/", 1)[-1], f.category) for f in rules_only.findings}
    assert {("reentrancy.sol", "reentrancy"), ("access_control.sol", "access_control")} <= categories
    assert rules_only.detectors["ledgerml-model"] == "off"


def test_a_guarded_selfdestruct_and_a_checked_call_are_not_reported(tmp_path: Path) -> None:
    (tmp_path / "guarded.sol").write_text(
        "pragma solidity ^0.4.24;\ncontract G {\n  address owner;\n"
        "  modifier onlyOwner() { require(msg.sender == owner); _; }\n"
        "  function kill() public onlyOwner { selfdestruct(owner); }\n"
        "  function pay(address to) public onlyOwner { require(to.send(1)); }\n}\n"
    )
    found = scan_contracts([tmp_path], slither=False).findings
    assert not [f for f in found if f.category in ("access_control", "unchecked_low_level_calls")], found
