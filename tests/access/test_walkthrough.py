"""The README's access walk-through, pasted into bash, does what the README says."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_access_walkthrough_runs_as_written(tmp_path: Path) -> None:
    page = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = page[page.index("## Secure data sharing walk-through") :]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERML_")}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    env["COLUMNS"] = "200"
    result = subprocess.run(
        ["bash", "-e", "-c", block.group(1)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = " ".join(result.stdout.split())
    assert "City General decrypted the same bytes" in out
    assert "refused with exit 45, no again.csv" in out
    assert '"epoch": 1' in out  # the version sealed after the revocation
    assert "sepsis model" in out and "study closed" in out  # the grant's purpose and the revocation in the log
    assert "was revoked in epoch 0" in result.stderr and "Traceback" not in result.stderr
