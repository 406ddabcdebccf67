"""Slither beside the structural detectors: its report mapped to categories and back to the scanned files
(pure, from a recorded report shape), and one real run over solc-js (module-scoped, skipped with its reason when
tools/setup-slither.sh has not been run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledgerml.analytics.contracts.api import scan_contracts
from ledgerml.analytics.contracts.scan import ScanReport
from ledgerml.analytics.contracts.slither import _findings, find_tools, relaxed_source
from ledgerml.errors import ConfigError

DATA = Path(__file__).parent / "data"


def test_a_report_maps_to_categories_and_scanned_names() -> None:
    report = {
        "success": True,
        "error": None,
        "results": {
            "detectors": [
                {
                    "check": "reentrancy-eth",
                    "confidence": "Medium",
                    "description": "Reentrancy in Bank.withdraw(uint256) (src/c0.sol#6-10):\n\tExternal calls:",
                    "elements": [
                        {"type": "function", "source_mapping": {"filename_relative": "src/c0.sol", "lines": [6, 7, 8]}},
                        {"type": "node", "source_mapping": {"filename_relative": "src/c0.sol", "lines": [8]}},
                    ],
                },
                {"check": "naming-convention", "confidence": "High", "description": "x", "elements": []},
            ]
        },
    }
    found, error = _findings(report, {"c0.sol": "bank/Bank.sol"})
    assert error is None and len(found) == 1
    finding = found[0]
    assert (finding.file, finding.start_line, finding.end_line, finding.category) == (
        "bank/Bank.sol",
        8,
        8,
        "reentrancy",
    )
    assert finding.detectors == ("slither:reentrancy-eth",) and "bank/Bank.sol#6-10" in finding.explanation
    assert _findings({"success": False, "error": "Compilation failed\nmore"}, {}) == ([], "Compilation failed")


def test_a_relaxed_pragma_keeps_every_line_where_it_was() -> None:
    source = b"// x\npragma solidity 0.4.18;\ncontract A {}\n"
    relaxed = relaxed_source(source, 4)
    assert relaxed == b"// x\npragma solidity ^0.4.0;\ncontract A {}\n"


@pytest.fixture(scope="module")
def with_slither() -> ScanReport:
    tools, why = find_tools()
    if tools is None:
        pytest.skip(f"Slither is not set up here: {why}")
    return scan_contracts([DATA / "reentrancy.sol", DATA / "access_control.sol"], slither=True)


@pytest.mark.slow
def test_slither_runs_over_solc_js_and_joins_the_rules(with_slither: ScanReport) -> None:
    assert with_slither.detectors["slither"] == "ran on 2 file(s)"
    joined = [f for f in with_slither.findings if f.category == "reentrancy" and f.start_line <= 12 <= f.end_line]
    assert joined and any(d.startswith("slither:reentrancy") for f in joined for d in f.detectors)
    assert any("slither:tx-origin" in f.detectors for f in with_slither.findings)
    assert all(f.file.endswith(".sol") and "c0.sol" not in f.explanation for f in with_slither.findings)


def test_without_slither_the_report_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGERML_SLITHER", "/nonexistent/slither")
    monkeypatch.setattr("shutil.which", lambda name: None)
    report = scan_contracts([DATA / "clean.sol"], slither=True)
    assert report.detectors["slither"].startswith("not run: ")


def test_a_spent_time_budget_leaves_the_rest_to_the_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    if find_tools()[0] is None:
        pytest.skip("Slither is not set up here (tools/setup-slither.sh)")
    monkeypatch.setenv("LEDGERML_SLITHER_BUDGET", "0")
    report = scan_contracts([DATA / "clean.sol", DATA / "reentrancy.sol"], slither=True)
    assert report.detectors["slither"].startswith("ran on 0 file(s); skipped 2 file(s): the time budget")
    assert any(f.category == "reentrancy" for f in report.findings)
    monkeypatch.setenv("LEDGERML_SLITHER_BUDGET", "soon")
    with pytest.raises(ConfigError, match="LEDGERML_SLITHER_BUDGET"):
        scan_contracts([DATA / "clean.sol"], slither=True)
