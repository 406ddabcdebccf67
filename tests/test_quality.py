"""The house rules as tests: ruff clean on src and tests, mypy strict clean on src."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "src", "tests", "benchmarks"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_clean() -> None:
    result = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_json_from_outside_is_parsed_only_through_the_bounded_helper() -> None:
    """Issue 21 item 2: every JSON text goes through ledgerml._json (size and depth checked before parsing)."""
    import re

    source = Path(__file__).resolve().parent.parent / "src" / "ledgerml"
    offenders = [
        f"{path.relative_to(source)}:{number}"
        for path in sorted(source.rglob("*.py"))
        if path.name != "_json.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\bjson\.loads?\(|\bjson\.JSONDecoder\b|model_validate_json\(", line)
    ]
    assert not offenders, f"parse JSON with ledgerml._json.loads_bounded instead: {offenders}"
