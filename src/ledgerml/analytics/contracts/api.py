"""The contract scanner as library calls: ``scan_contracts`` (files or folders -> ``ScanReport``) and the
Slither pass it adds when Slither is installed. The CLI and the benchmark call these."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable
from pathlib import Path

from ...errors import ConfigError
from .model import ContractModel, load_model
from .scan import (
    MODEL_DETECTOR,
    RULES_DETECTOR,
    FileError,
    Finding,
    PreparedFile,
    ScanError,
    ScanReport,
    collect_files,
    merge,
    prepare,
    rule_and_model_findings,
)

SLITHER_BATCH = 10
"""Files compiled and analysed per Slither run (one solc-js start-up per run)."""


def scan_contracts(
    paths: Iterable[Path],
    *,
    model: ContractModel | None = None,
    use_model: bool = True,
    slither: bool = True,
    min_confidence: float = 0.5,
) -> ScanReport:
    """Scan ``.sol`` files and folders. ``model`` defaults to the bundled one; ``slither`` adds Slither's
    findings where it is installed (the report's ``detectors`` says what ran and, if not, why)."""
    report = ScanReport()
    files, report.errors = collect_files(paths)
    prepared: list[PreparedFile] = []
    for name, path in files:
        try:
            prepared.append(prepare(name, path))
        except ScanError as exc:
            report.errors.append(FileError(name, str(exc)))
    if use_model and model is None:
        model = load_model()
    report.detectors[RULES_DETECTOR] = "ran"
    report.detectors[MODEL_DETECTOR] = f"ran ({getattr(model, 'id_', 'unsaved')})" if model is not None else "off"
    report.model_id = getattr(model, "id_", None) if model is not None else None
    findings: list[Finding] = []
    for item in prepared:
        report.files[item.name] = "sha256:" + hashlib.sha256(item.source).hexdigest()
        findings += rule_and_model_findings(item, model, min_confidence)
    if slither:
        findings += _slither_findings(prepared, report, min_confidence)
    else:
        report.detectors["slither"] = "off (--no-slither)"
    report.findings = merge(findings)
    report.errors.sort(key=lambda e: e.file)
    return report


def slither_budget() -> float:
    """Seconds Slither may take in one scan (``LEDGERML_SLITHER_BUDGET``, default 900): past it, the remaining
    files are left to the rules and the model, and the report says how many."""
    raw = os.environ.get("LEDGERML_SLITHER_BUDGET", "900")
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"LEDGERML_SLITHER_BUDGET must be a number of seconds, not {raw!r}") from None
    if not value >= 0:
        raise ConfigError("LEDGERML_SLITHER_BUDGET must be at least 0")
    return value


def _slither_findings(prepared: list[PreparedFile], report: ScanReport, min_confidence: float) -> list[Finding]:
    from .slither import find_tools

    tools, why = find_tools()
    if tools is None:
        report.detectors["slither"] = f"not run: {why}"
        return []
    groups: dict[str, list[PreparedFile]] = {}
    skipped: list[str] = []
    for item in prepared:
        version = item.compiler.version
        if version is None or not tools.has_compiler(version) or item.model.imports:
            skipped.append(item.name)
        else:
            groups.setdefault(version, []).append(item)
    found: list[Finding] = []
    failed: list[str] = []
    late: list[str] = []
    deadline = time.monotonic() + slither_budget()
    for version, items in sorted(groups.items()):
        for start in range(0, len(items), SLITHER_BATCH):
            batch = items[start : start + SLITHER_BATCH]
            if time.monotonic() >= deadline:
                late += [item.name for item in batch]
                continue
            found += _run_batch(tools, batch, version, failed)
    report.detectors["slither"] = _slither_note(
        len(prepared) - len(skipped) - len(failed) - len(late), skipped, failed, late
    )
    return [f for f in found if f.confidence >= min_confidence]


def _slither_note(ran: int, skipped: list[str], failed: list[str], late: list[str]) -> str:
    notes = []
    if skipped:
        notes.append(f"skipped {len(skipped)} file(s) without an installed compiler or with imports")
    if failed:
        notes.append(f"could not compile {len(failed)} file(s): {', '.join(failed[:3])}")
    if late:
        notes.append(f"skipped {len(late)} file(s): the time budget (LEDGERML_SLITHER_BUDGET) was spent")
    return f"ran on {ran} file(s)" + (f"; {'; '.join(notes)}" if notes else "")


def _run_batch(tools: object, items: list[PreparedFile], version: str, failed: list[str]) -> list[Finding]:
    """One Slither run; when the batch does not compile, each file alone (to find the one that breaks it)."""
    from .slither import SlitherTools, run_slither

    assert isinstance(tools, SlitherTools)
    found, error = run_slither(tools, items, version)
    if error is None:
        return found
    if len(items) == 1:
        failed.append(items[0].name)
        return []
    out: list[Finding] = []
    for item in items:
        out += _run_batch(tools, [item], version, failed)
    return out
