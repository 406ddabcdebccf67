"""SARIF 2.1.0 (what GitHub code scanning and editors read) from a scan report: one rule per category, one
result per finding, per-file errors as tool execution notifications."""

from __future__ import annotations

from typing import Any

from .categories import CATEGORIES, DESCRIPTIONS, SWC
from .scan import ScanReport

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/ledgerml/ledgerml/blob/main/docs/contracts.md"


def _level(confidence: float) -> str:
    return "error" if confidence >= 0.75 else "warning" if confidence >= 0.5 else "note"


def _rules() -> list[dict[str, Any]]:
    return [
        {
            "id": category,
            "name": category.replace("_", " ").title().replace(" ", ""),
            "shortDescription": {"text": DESCRIPTIONS[category]},
            "helpUri": INFORMATION_URI,
            "properties": {"tags": ["security", *([SWC[category]] if SWC[category] else [])]},
        }
        for category in CATEGORIES
    ]


def _location(file: str, start: int, end: int) -> dict[str, Any]:
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": file.replace("\\", "/")},
            "region": {"startLine": max(start, 1), "endLine": max(end, start, 1)},
        }
    }


def to_sarif(report: ScanReport, version: str) -> dict[str, Any]:
    """The report as one SARIF 2.1.0 log with a single run."""
    results = [
        {
            "ruleId": f.category,
            "ruleIndex": CATEGORIES.index(f.category),
            "level": _level(f.confidence),
            "message": {"text": f.explanation},
            "locations": [_location(f.file, f.start_line, f.end_line)],
            "properties": {"confidence": round(f.confidence, 4), "detectors": list(f.detectors), "swc": f.swc},
        }
        for f in report.findings
    ]
    notifications = [
        {"level": "error", "message": {"text": f"{e.file}: {e.error}"}, "locations": [_location(e.file, 1, 1)]}
        for e in report.errors
    ]
    invocation = {
        "executionSuccessful": report.ok,
        "toolExecutionNotifications": notifications,
        "properties": {"detectors": dict(report.detectors)},
    }
    driver = {"name": "ledgerml", "version": version, "informationUri": INFORMATION_URI, "rules": _rules()}
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{"tool": {"driver": driver}, "invocations": [invocation], "results": results}],
    }
