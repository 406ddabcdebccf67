"""Scanning files and folders: per file, read (bounded), check it is Solidity text with a known pragma and
resolvable imports, run the structural rules and the learned model (and Slither when installed), merge the
findings; a file that cannot be scanned becomes one error entry and the scan goes on."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ...errors import LedgerMLError, StorageError
from .analysis import FileAnalysis, analyse
from .categories import CATEGORIES, SWC
from .compilers import CompilerChoice, UnknownPragma, choose_compiler
from .gates import plausible
from .model import CLASSES, ContractModel
from .parse import SourceModel

MAX_FILE_BYTES = 2 << 20
"""Largest source file scanned (the largest verified mainnet contracts are a few hundred KiB)."""
MAX_FILES = 20_000
RULES_DETECTOR = "ledgerml-rules"
MODEL_DETECTOR = "ledgerml-model"


class ScanError(LedgerMLError, ValueError):
    """One file cannot be scanned (reported per file; the scan goes on)."""


@dataclass(frozen=True)
class Finding:
    """A vulnerability finding: where, which category (and SWC id), how sure, who raised it, and why."""

    file: str
    start_line: int
    end_line: int
    category: str
    swc: str | None
    confidence: float
    detectors: tuple[str, ...]
    explanation: str

    def to_json(self) -> dict[str, Any]:
        """The interface's JSON object."""
        out = asdict(self)
        out["detectors"] = list(self.detectors)
        out["confidence"] = round(self.confidence, 4)
        return out


@dataclass(frozen=True)
class FileError:
    """A file that could not be scanned and why (one line)."""

    file: str
    error: str


@dataclass
class PreparedFile:
    """A file read and checked: its display name, bytes, parse, compiler choice."""

    name: str
    path: Path
    source: bytes
    model: SourceModel
    compiler: CompilerChoice


@dataclass
class ScanReport:
    """Findings and per-file errors of a scan, which detectors ran (and why others did not), and digests."""

    findings: list[Finding] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    detectors: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    """Scanned file name -> sha256 of its bytes."""
    model_id: str | None = None

    @property
    def ok(self) -> bool:
        """Every file was scanned."""
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        """``{"findings": [...], "errors": [...], "detectors": {...}}``."""
        return {
            "findings": [f.to_json() for f in self.findings],
            "errors": [asdict(e) for e in self.errors],
            "detectors": dict(self.detectors),
        }

    def findings_digest(self) -> str:
        """sha256 of the canonical JSON of the findings and errors (what ``--record`` signs)."""
        body = {"findings": [f.to_json() for f in self.findings], "errors": [asdict(e) for e in self.errors]}
        return "sha256:" + hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()

    def contracts_digest(self) -> str:
        """sha256 over the sorted (name, file digest) pairs of every scanned file."""
        body = json.dumps(sorted(self.files.items()), separators=(",", ":")).encode()
        return "sha256:" + hashlib.sha256(body).hexdigest()


def collect_files(paths: Iterable[Path]) -> tuple[list[tuple[str, Path]], list[FileError]]:
    """(display name, path) of every ``.sol`` file: a file as given, a folder's files relative to it."""
    files: list[tuple[str, Path]] = []
    errors: list[FileError] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*.sol") if p.is_file() or p.is_symlink())
            files += [(p.relative_to(path).as_posix(), p) for p in found]
        elif path.exists() or path.is_symlink():
            files.append((str(path), path))
        else:
            errors.append(FileError(str(path), "does not exist"))
    if len(files) > MAX_FILES:
        raise StorageError(f"{len(files)} files to scan; at most {MAX_FILES} in one scan")
    return files, errors


def prepare(name: str, path: Path) -> PreparedFile:
    """Read and check one file; ``ScanError`` (one line) when it cannot be scanned."""
    if path.is_symlink() or not path.is_file():
        raise ScanError("not a regular file")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ScanError(f"{size:,} bytes; at most {MAX_FILE_BYTES:,} are scanned")
        source = path.read_bytes()
    except OSError as exc:
        raise ScanError(f"cannot read: {exc.strerror or exc}") from None
    if b"\x00" in source:
        raise ScanError("binary data, not Solidity source")
    try:
        source.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScanError(f"not UTF-8 text (byte {exc.start})") from None
    model = _parse_checked(source)
    pragmas = [p for p in model.pragmas if "solidity" in p.split()[1:2]]
    try:
        compiler = choose_compiler(pragmas)
    except UnknownPragma as exc:
        raise ScanError(f"unknown pragma: {exc}") from None
    _check_imports(path, model)
    return PreparedFile(name, path, source, model, compiler)


def _parse_checked(source: bytes) -> SourceModel:
    from .parse import parse_source

    model = parse_source(source)
    if not model.contracts:
        where = f" (syntax error at line {model.error_lines[0]})" if model.error_lines else ""
        raise ScanError(f"no contract, library or interface found{where}")
    lines = max(source.count(b"\n"), 1)
    if len(model.error_lines) > max(3, lines // 20):
        raise ScanError(f"does not parse as Solidity (syntax error at line {model.error_lines[0]})")
    return model


def _check_imports(path: Path, model: SourceModel) -> None:
    for name in model.imports:
        target = (path.parent / name).resolve()
        if not target.is_file():
            raise ScanError(f"import '{name}' cannot be resolved (looked for {target})")


def detector_findings(
    prepared: PreparedFile, model: ContractModel | None, min_confidence: float
) -> tuple[list[Finding], list[Finding]]:
    """(structural rules' findings, learned model's findings) on one prepared file, each merged on its own."""
    analysis = analyse(prepared.source, prepared.compiler.minor)
    rules = [
        Finding(
            prepared.name,
            h.start_line,
            h.unit.end_line,
            h.category,
            h.swc_id,
            h.confidence,
            (f"{RULES_DETECTOR}:{h.rule}",),
            h.explanation,
        )
        for h in analysis.hits
    ]
    learned = _model_findings(prepared.name, analysis, model) if model is not None else []
    return (
        [f for f in merge(rules) if f.confidence >= min_confidence],
        [f for f in merge(learned) if f.confidence >= min_confidence],
    )


def rule_and_model_findings(
    prepared: PreparedFile, model: ContractModel | None, min_confidence: float
) -> list[Finding]:
    """Findings of the structural rules and the learned model on one prepared file, merged."""
    rules, learned = detector_findings(prepared, model, 0.0)
    return [f for f in merge(rules + learned) if f.confidence >= min_confidence]


def _model_findings(name: str, analysis: FileAnalysis, model: ContractModel) -> list[Finding]:
    probabilities = model.predict_proba(analysis.features)
    found = []
    for (unit, function), row in zip(analysis.units, probabilities, strict=True):
        for index, category in enumerate(CLASSES[1:], start=1):
            p = float(row[index])
            if p >= model.threshold and plausible(category, unit, function, analysis.context):
                found.append(
                    Finding(
                        name,
                        unit.start_line,
                        unit.end_line,
                        category,
                        SWC[category],
                        p,
                        (MODEL_DETECTOR,),
                        f"learned model: p={p:.2f} that this statement is {category.replace('_', ' ')} "
                        "(structure-only features, identifiers renamed)",
                    )
                )
    return found


def merge(findings: list[Finding]) -> list[Finding]:
    """One finding per (file, category, overlapping lines): detectors joined, highest confidence, first reasons."""
    out: list[Finding] = []
    for f in sorted(findings, key=lambda f: (f.file, CATEGORIES.index(f.category), f.start_line, -f.confidence)):
        last = out[-1] if out else None
        if last and last.file == f.file and last.category == f.category and f.start_line <= last.end_line:
            detectors = tuple(dict.fromkeys(last.detectors + f.detectors))
            explanation = (
                last.explanation if f.explanation in last.explanation else last.explanation + "; " + f.explanation
            )
            swc = last.swc if last.swc != SWC[last.category] or f.swc is None else f.swc
            out[-1] = Finding(
                last.file,
                last.start_line,
                max(last.end_line, f.end_line),
                last.category,
                swc,
                max(last.confidence, f.confidence),
                detectors,
                explanation,
            )
        else:
            out.append(f)
    return out
