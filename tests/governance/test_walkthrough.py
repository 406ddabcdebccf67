"""The README's consortium walk-through (governance, two witnesses, verify --witnesses), pasted into bash."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_consortium_walkthrough_runs_as_written(tmp_path: Path) -> None:
    page = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = page[page.index("## Consortium walk-through") :]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERML_")}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    env.update(COLUMNS="200", TMPDIR=str(tmp_path))
    result = subprocess.run(
        ["bash", "-e", "-c", block.group(1)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = " ".join(result.stdout.split())
    assert "refused with exit 14: one admin no longer acts alone" in out
    assert "needs 2 of 3 approvals under governance policy v1" in result.stderr
    assert '"proposal": 1' in out and "executed proposal 1" in out
    assert "cosigned by 2" in out and "OK:" in out and "2 witness cosignature(s) checked" in out
    assert "Traceback" not in result.stderr
    assert out.count("stopped") == 2  # the trap stopped both witnesses (SIGTERM: a clean stop)
