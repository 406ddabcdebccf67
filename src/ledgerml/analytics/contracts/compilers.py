"""Which solc-js release compiles a file: its ``pragma solidity`` constraints against the releases that exist and
the ones installed as npm aliases (``solc-X.Y.Z`` in package.json)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from ...errors import ConfigError

Version = tuple[int, int, int]

SHIPPED: Final[tuple[str, ...]] = ("0.4.26", "0.5.17", "0.6.12", "0.8.30")
"""The solc-js releases package.json installs (one per minor line; 0.7 has none: Slither skips such files)."""
LATEST_PATCH: Final = {4: 26, 5: 17, 6: 12, 7: 6, 8: 37}
"""The last patch release of every 0.x line that exists (0.4.0 .. 0.8.37)."""

_CLAUSE = re.compile(r"(\^|~|>=|<=|>|<|=)?\s*v?(\d+)(?:\.(\d+|x|\*))?(?:\.(\d+|x|\*))?")


class UnknownPragma(ConfigError):
    """A ``pragma solidity`` no Solidity release satisfies, or one that cannot be read."""


@dataclass(frozen=True)
class CompilerChoice:
    """The release a file asks for: ``version`` to compile with (None: none installed fits), ``minor`` (0.x) of
    the language the file is written in, and ``relaxed`` when the pragma must be widened to the installed patch."""

    version: str | None
    minor: int | None
    relaxed: bool
    note: str


def parse_version(text: str) -> Version:
    """``"0.5.17"`` -> ``(0, 5, 17)``."""
    major, minor, patch = (int(p) for p in text.split("."))
    return major, minor, patch


def _bounds(op: str, parts: tuple[int, int | None, int | None]) -> list[tuple[str, Version]]:
    major, minor, patch = parts
    if minor is None:
        return [(">=", (major, 0, 0)), ("<", (major + 1, 0, 0))]
    if patch is None:
        if op in ("", "=", "^", "~"):
            return [(">=", (major, minor, 0)), ("<", (major, minor + 1, 0))]
        return [(op, (major, minor, 0))]
    version = (major, minor, patch)
    if op == "^":
        upper = (major + 1, 0, 0) if major > 0 else (0, minor + 1, 0) if minor > 0 else (0, 0, patch + 1)
        return [(">=", version), ("<", upper)]
    if op == "~":
        return [(">=", version), ("<", (major, minor + 1, 0))]
    return [("=" if op == "" else op, version)]


def parse_constraint(pragma: str) -> list[list[tuple[str, Version]]]:
    """``pragma solidity >=0.4.22 <0.6.0;`` -> alternatives (``||``) of (operator, version) bounds."""
    body = pragma.strip().removeprefix("pragma").strip().removeprefix("solidity").strip().rstrip(";").strip()
    if not body:
        raise UnknownPragma(f"cannot read '{pragma.strip()}'")
    alternatives = []
    for alternative in body.split("||"):
        bounds: list[tuple[str, Version]] = []
        rest = re.sub(r"(\d)\s+-\s+(\d)", r"\1 -\2", alternative.strip())
        if " -" in rest:  # hyphen range a - b
            low, high = rest.split(" -", 1)
            bounds += _clause(">=" + low.strip()) + _clause("<=" + high.strip())
        else:
            for token in re.findall(r"[\^~><=]*\s*v?[\dx*.]+", rest):
                bounds += _clause(token.replace(" ", ""))
        if not bounds:
            raise UnknownPragma(f"cannot read '{pragma.strip()}'")
        alternatives.append(bounds)
    return alternatives


def _clause(token: str) -> list[tuple[str, Version]]:
    match = _CLAUSE.fullmatch(token)
    if match is None:
        raise UnknownPragma(f"cannot read the version constraint '{token}'")
    op, major, minor, patch = match.groups()

    def number(part: str | None) -> int | None:
        return None if part in (None, "x", "*") else int(part)

    return _bounds(op or "", (int(major), number(minor), number(patch)))


def _satisfies(version: Version, bounds: list[tuple[str, Version]]) -> bool:
    checks = {
        "=": version.__eq__,
        ">=": version.__ge__,
        "<=": version.__le__,
        ">": version.__gt__,
        "<": version.__lt__,
    }
    return all(checks[op](bound) for op, bound in bounds)


def releases() -> list[Version]:
    """Every Solidity release 0.4.0 .. 0.8.37 (0.1-0.3 predate solc-js releases anyone uses)."""
    return [(0, minor, patch) for minor, last in LATEST_PATCH.items() for patch in range(last + 1)]


def choose_compiler(pragmas: list[str], shipped: tuple[str, ...] = SHIPPED) -> CompilerChoice:
    """The compiler for a file and the language line its code is written in.

    ``minor`` is the lowest 0.x line the pragmas allow (``>=0.4.22 <0.6.0`` code may be built by 0.4, so it can
    overflow). The compiler is the newest installed release that satisfies every pragma; an open-ended pragma
    (``>=0.5.11``) stays on its lowest line, since newer lines break old syntax. Without an installed fit, the
    installed release of that line with the pragma relaxed; else none (``version`` None). ``UnknownPragma`` when
    no release exists."""
    constraints = [parse_constraint(p) for p in pragmas]

    def fits(version: Version) -> bool:
        return all(any(_satisfies(version, alt) for alt in alts) for alts in constraints)

    existing = [v for v in releases() if fits(v)]
    if not existing:
        raise UnknownPragma(f"no Solidity release satisfies {' and '.join(p.strip() for p in pragmas)}")
    lowest = min(existing)[1]
    open_ended = any(not any(op in ("<", "<=", "=") for op, _ in alt) for alts in constraints for alt in alts)
    allowed = [v for v in existing if v[1] == lowest] if open_ended else existing
    installed = sorted((parse_version(s) for s in shipped), reverse=True)
    for version in installed:
        if fits(version) and (version[1] == lowest or not open_ended):
            return CompilerChoice(_text(version), lowest, False, f"solc {_text(version)}")
    newest = max(allowed)
    same_line = [v for v in installed if v[1] == newest[1]]
    if same_line:
        used = same_line[0]
        return CompilerChoice(
            _text(used), lowest, True, f"solc {_text(used)} with the pragma relaxed (asks for {_text(newest)})"
        )
    return CompilerChoice(None, lowest, False, f"needs solc {_text(newest)}, which is not installed")


def _text(version: Version) -> str:
    return ".".join(str(p) for p in version)
