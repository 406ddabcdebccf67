"""Every command block of the README, run as a user runs it: pasted into bash (or python) in a fresh folder,
with the real ``ledgerml`` entry point and a real anvil node. Install blocks are what CI itself runs."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
FENCE = re.compile(r"```(\w+)\n(.*?)```", re.S)
INSTALL_BLOCKS = 2
"""The quick start's two install lines (a venv, pip install, npm ci): CI runs them; the suite runs in what they made."""


def blocks(section: str, language: str = "bash") -> list[str]:
    """The ``language`` blocks between the heading ``section`` and the next heading of its level."""
    start = README.index(section)
    level = section.split(" ")[0]
    following = README.find("\n" + level + " ", start + len(section))
    text = README[start : following if following != -1 else len(README)]
    return [body for lang, body in FENCE.findall(text) if lang == language]


def _env(tmp_path: Path) -> dict[str, str]:
    """The user's environment, less any ledgerml setting; ``mktemp -d`` makes its folders in ``tmp_path``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEDGERML_", "FLWR_LOG"))}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    env["TMPDIR"] = str(tmp_path)
    env["COLUMNS"] = "200"
    env.update(FLWR_TELEMETRY_ENABLED="0", FLWR_DISABLE_UPDATE_CHECK="1", RAY_USAGE_STATS_ENABLED="0")
    return env


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_every_bash_block_is_run_by_this_file() -> None:
    """No block escapes: the install lines, the three 'Using it' blocks and the three walk-throughs."""
    every = [body for lang, body in FENCE.findall(README) if lang == "bash"]
    installs = [b for b in every if "pip install" in b or "npm ci" in b]
    assert len(installs) == INSTALL_BLOCKS and all(b.count("\n") == 1 for b in installs)
    walkthroughs = len(blocks("## Provenance walk-through")) + len(blocks("## Secure data sharing walk-through"))
    walkthroughs += len(blocks("## Consortium walk-through"))  # run by tests/governance/test_walkthrough.py
    assert len(every) == INSTALL_BLOCKS + 1 + len(blocks("## Using it")) + walkthroughs  # + 1: the serve line
    assert len(blocks("## Using it")) == 3 and len(blocks("## Using it", "python")) == 1
    assert len([b for b in every if "ledgerml serve" in b]) == 1


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    """``.ci/run`` runs the quick start's second install line exactly as the README shows it."""
    installs = [b.strip() for lang, b in FENCE.findall(README) if lang == "bash" and "pip install" in b]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert installs[1] in ci and "python -m pytest" in installs[1]


@pytest.mark.slow
def test_the_serve_line_serves_the_demo_home(tmp_path: Path) -> None:
    """The quick start's third line, on a free port: the demo home served, /api/verify as 'verify --json',
    the dashboard behind the printed token, and SIGTERM stops it."""
    import json
    import signal
    import time
    import urllib.request

    (line,) = [b.strip() for lang, b in FENCE.findall(README) if lang == "bash" and "ledgerml serve" in b]
    port = _free_port()
    env = _env(tmp_path)
    server = subprocess.Popen(
        ["bash", "-c", f"{line} --port {port}"],
        cwd=tmp_path,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline, verify = time.monotonic() + 300, None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"{url}/api/verify", timeout=60) as answer:
                    verify = json.load(answer)
                break
            except OSError:
                time.sleep(0.5)
        assert verify is not None, "the service did not come up"
        expected = subprocess.run(
            ["ledgerml", "verify", "--home", "demo", "--json"], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert verify == json.loads(expected.stdout)
        with urllib.request.urlopen(f"{url}/login", timeout=30) as page:
            assert page.status == 200 and "token" in page.read().decode().lower()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        out, err = server.communicate(timeout=60)
    assert "lml_" in out and "Traceback" not in err, err[-2000:]


def _stop_nodes(tmp_path: Path, env: dict[str, str]) -> None:
    """Stop any node a failed block left running, by its PID file."""
    for pid_file in tmp_path.glob("*/.ledgerml/node/anvil.pid"):
        home = pid_file.parents[1]
        subprocess.run(["ledgerml", "node", "stop", "--home", str(home)], env=env, capture_output=True, check=False)


@pytest.mark.slow
def test_using_it_runs_as_written(tmp_path: Path) -> None:
    """The three 'Using it' blocks in one shell, in order: the ledger, a federation, fraud detection and
    anchoring on one anvil node (on a free port instead of 8545, which may be taken on this machine)."""
    if shutil.which("anvil", path=str(ROOT / "node_modules" / ".bin")) is None and shutil.which("anvil") is None:
        pytest.fail("anvil is not installed: run 'npm ci' (the README says so)")
    port = str(_free_port())
    script = "set -e\n" + "\n".join(blocks("## Using it")).replace("8545", port)
    env = _env(tmp_path)
    try:
        result = subprocess.run(
            ["bash", "-c", script], capture_output=True, text=True, env=env, cwd=ROOT, timeout=900, check=False
        )
    finally:
        _stop_nodes(tmp_path, env)
    out, err = " ".join(result.stdout.split()), result.stderr
    assert result.returncode == 0, result.stdout[-4000:] + err[-4000:]
    assert "Traceback" not in err and "INFO" not in err and "fraction_evaluate" not in err, err[-3000:]
    assert "valid inclusion proof" in out and "OK: " in out
    assert "valid: task quickstart, 5 participants, 3 rounds, rule multi_krum, attack sign_flip" in out
    assert "audit: every round and payout replays exactly" in out and "minted" in out
    assert re.search(r"scored \d+ accounts, \d+ flagged; wrote scores.csv", out), out[-2000:]
    assert "anchored block" in out and "1 anchor(s) checked against the chain" in out and "stopped anvil" in out
    work = next(p.parent for p in tmp_path.glob("*/.ledgerml"))
    for made in ("quickstart.html", "audit.html", "fraud-report.html", "scores.csv", "proof.json"):
        assert (work / made).is_file(), made
    report = (work / "quickstart.html").read_text()
    assert "ledger id" in report and "DP epsilon" in report and "ledgerml version" in report


def test_python_example_runs_as_written(tmp_path: Path) -> None:
    (code,) = blocks("## Using it", "python")
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "ledger.db").is_file()


def test_the_extras_message_is_the_one_the_readme_shows(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import importlib.util

    from tests._cli import run_cli

    (transcript,) = [b for lang, b in FENCE.findall(README) if lang == "text" and "pip install 'ledgerml[" in b]
    command, shown = (line for line in transcript.splitlines() if line.strip())
    real = importlib.util.find_spec
    absent = {"pandas", "lightgbm"}
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in absent else real(name, *a))
    monkeypatch.chdir(tmp_path)
    result = run_cli(*command.removeprefix("$ ledgerml ").split())
    assert result.code == 2 and result.err.strip() == shown, result.err


@pytest.mark.slow
def test_readme_provenance_walkthrough_runs_as_written(tmp_path: Path) -> None:
    """The README's provenance walk-through block, pasted into bash, does what the README says."""
    (block,) = blocks("## Provenance walk-through")
    result = subprocess.run(
        ["bash", "-c", block], capture_output=True, text=True, env=_env(tmp_path), cwd=tmp_path, timeout=600
    )
    assert result.returncode == 33, result.stdout[-3000:] + result.stderr[-3000:]  # the final, tampered verify
    assert result.stdout.count("PASS") == 5 and "FAIL digest" in result.stdout
    assert "valid: row 42 of cancer.csv" in " ".join(result.stdout.split())
