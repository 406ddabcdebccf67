"""Slither as a subprocess (its own venv: it needs web3<8) over solc-js through ``tools/solc``: one run per
compiler release over a folder of copies, results mapped to categories and back to the scanned files."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..._files import read_bounded
from ..._json import loads_bounded
from .categories import SWC
from .scan import Finding, PreparedFile

DETECTOR = "slither"
TIMEOUT_SECONDS = 600
CHECKS = {
    "reentrancy-eth": ("reentrancy", "SWC-107"),
    "reentrancy-no-eth": ("reentrancy", "SWC-107"),
    "reentrancy-benign": ("reentrancy", "SWC-107"),
    "reentrancy-events": ("reentrancy", "SWC-107"),
    "reentrancy-unlimited-gas": ("reentrancy", "SWC-107"),
    "reentrancy-balance": ("reentrancy", "SWC-107"),
    "tx-origin": ("access_control", "SWC-115"),
    "suicidal": ("access_control", "SWC-106"),
    "arbitrary-send-eth": ("access_control", "SWC-105"),
    "controlled-delegatecall": ("access_control", "SWC-112"),
    "unprotected-upgrade": ("access_control", "SWC-105"),
    "protected-vars": ("access_control", "SWC-105"),
    "unchecked-send": ("unchecked_low_level_calls", "SWC-104"),
    "unchecked-lowlevel": ("unchecked_low_level_calls", "SWC-104"),
    "unchecked-transfer": ("unchecked_low_level_calls", "SWC-104"),
    "weak-prng": ("bad_randomness", "SWC-120"),
    "timestamp": ("time_manipulation", "SWC-116"),
    "calls-loop": ("denial_of_service", "SWC-113"),
    "msg-value-loop": ("denial_of_service", "SWC-113"),
    "uninitialized-storage": ("other", "SWC-109"),
    "uninitialized-state": ("other", "SWC-109"),
    "incorrect-equality": ("other", "SWC-132"),
}
"""Slither detectors that name a vulnerability category; the rest (naming, style, optimisation) are left out."""
CONFIDENCE = {"High": 0.8, "Medium": 0.65, "Low": 0.5}


@dataclass(frozen=True)
class SlitherTools:
    """The Slither executable, the ``solc`` wrapper and the ``node_modules`` folder holding solc-js releases."""

    slither: Path
    solc: Path
    node_modules: Path

    def has_compiler(self, version: str) -> bool:
        """Whether the npm alias ``solc-VERSION`` is installed."""
        return (self.node_modules / f"solc-{version}" / "soljson.js").is_file()


def _roots() -> list[Path]:
    here = Path(__file__).resolve()
    return [Path.cwd().resolve(), *Path.cwd().resolve().parents, *here.parents]


def find_tools() -> tuple[SlitherTools | None, str]:
    """The tools when all are present (``LEDGERML_SLITHER``, ``.venv-slither``, PATH), else None and why not."""
    slither = os.environ.get("LEDGERML_SLITHER")
    solc = os.environ.get("LEDGERML_SOLC_WRAPPER")
    root = next((r for r in _roots() if (r / "tools" / "solc").is_file()), None)
    if slither is None:
        local = next(
            (r / ".venv-slither" / "bin" / "slither" for r in _roots() if (r / ".venv-slither").is_dir()), None
        )
        slither = str(local) if local is not None and local.is_file() else shutil.which("slither")
    if slither is None:
        return None, "Slither is not installed (run tools/setup-slither.sh)"
    if not Path(slither).is_file():
        return None, f"LEDGERML_SLITHER names {slither}, which does not exist"
    if solc is None and root is None:
        return None, "the solc wrapper tools/solc was not found"
    wrapper = Path(solc) if solc else Path(root or ".") / "tools" / "solc"
    if shutil.which("node") is None:
        return None, "node is not installed (solc-js needs it)"
    modules = Path(os.environ.get("LEDGERML_NODE_MODULES", str(wrapper.resolve().parent.parent / "node_modules")))
    return SlitherTools(Path(slither), wrapper, modules), "ok"


def relaxed_source(source: bytes, minor: int) -> bytes:
    """The source with each ``pragma solidity`` replaced by ``^0.MINOR.0`` (same line count)."""
    pattern = re.compile(rb"pragma\s+solidity\s+[^;]*;")
    return pattern.sub(f"pragma solidity ^0.{minor}.0;".encode(), source)


def run_slither(tools: SlitherTools, files: list[PreparedFile], version: str) -> tuple[list[Finding], str | None]:
    """Findings of one Slither run over ``files`` compiled with solc ``version``; (findings, error or None)."""
    with tempfile.TemporaryDirectory(prefix="ledgerml-slither-") as tmp:
        folder = Path(tmp) / "src"
        folder.mkdir()
        names = {}
        for i, prepared in enumerate(files):
            copy = f"c{i}.sol"
            names[copy] = prepared.name
            body = prepared.source
            if prepared.compiler.relaxed and prepared.compiler.minor is not None:
                body = relaxed_source(body, prepared.compiler.minor)
            (folder / copy).write_bytes(body)
        out = Path(tmp) / "out.json"
        env = {**os.environ, "LEDGERML_SOLC_VERSION": version, "NODE_PATH": str(tools.node_modules)}
        command = [
            str(tools.slither),
            str(folder),
            "--solc-standard-json",
            "--solc",
            str(tools.solc.resolve()),
            "--json",
            str(out),
            "--disable-color",
            "--detect",
            ",".join(CHECKS),
        ]
        try:
            subprocess.run(command, cwd=tmp, env=env, capture_output=True, timeout=TIMEOUT_SECONDS, check=False)
        except subprocess.TimeoutExpired:
            return [], f"Slither took longer than {TIMEOUT_SECONDS} s"
        if not out.is_file():
            return [], "Slither wrote no report"
        report = loads_bounded(read_bounded(out, 256 << 20), what="Slither's report", max_bytes=256 << 20)
    return _findings(report, names)


def _findings(report: Any, names: dict[str, str]) -> tuple[list[Finding], str | None]:
    if not isinstance(report, dict) or not report.get("success"):
        error = str(report.get("error") if isinstance(report, dict) else "unreadable report")
        return [], error.strip().splitlines()[0] if error.strip() else "compilation failed"
    found = []
    for result in (report.get("results") or {}).get("detectors", []):
        mapped = CHECKS.get(result.get("check", ""))
        if mapped is None:
            continue
        description = str(result.get("description", "")).strip().splitlines()
        summary = description[0][:200] if description else result["check"]
        for copy, name in names.items():
            summary = summary.replace(f"src/{copy}", name)
        for name, lines in _locations(result.get("elements", []), names):
            category, swc = mapped
            found.append(
                Finding(
                    name,
                    min(lines),
                    max(lines),
                    category,
                    swc or SWC[category],
                    CONFIDENCE.get(result.get("confidence", ""), 0.5),
                    (f"{DETECTOR}:{result['check']}",),
                    f"slither {result['check']}: {summary}",
                )
            )
    return found, None


def _locations(elements: Iterable[Any], names: dict[str, str]) -> list[tuple[str, list[int]]]:
    """Where a result points: its statement nodes, or (none) its first element."""
    nodes = [e for e in elements if e.get("type") == "node"] or list(elements)[:1]
    out = []
    for element in nodes:
        mapping = element.get("source_mapping") or {}
        lines = [int(n) for n in mapping.get("lines") or [] if isinstance(n, int)]
        copy = Path(str(mapping.get("filename_relative") or mapping.get("filename_short") or "")).name
        if lines and copy in names:
            out.append((names[copy], lines))
    return out
