"""Every ```bash block of the docs pages, run as a user runs it: each page's blocks pasted in order into one bash
shell in a fresh folder, with the real ``ledgerml`` entry point (and a real anvil node where a block starts one).

What the shell holds before a page's first block (a user who followed the README's "Using it" has the same): a
scratch working folder ``work/`` with ``LEDGERML_HOME=work/.ledgerml`` made by ``ledgerml init --unencrypted``
(unencrypted so key derivation does not dominate the test's time) and ``LEDGERML_PASSWORD`` set for the keys the
blocks create, the repository's folders a page names (``examples/``, the test contracts), and, where a block
reads ``../shared/data/...``, small generated files in the real data's layout at that relative path (the real
data is not in CI's clone). Each command must exit 0, or the status its comment gives as ``(exit N)``.

Only these are substituted, and only in the shell's copy of the text: anvil's port 8545 and the service's 8000
become free ports (they may be taken on this machine); on docs/service.md the other machine's
``LEDGERML_URL=http://ledger.consortium.example:8000`` becomes the ``ledgerml serve`` the page started on this
machine, and the token and validator address "the admin handed over" (``lml_…``, ``0x…``) are made by the serving
home's admin here. ``ledgerml serve`` runs in the background until the page's last block has run, then SIGTERM
stops it (exit 0)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
EXPECTED_EXIT = re.compile(r"#.*\(exit (\d+)\)")
HEREDOC = re.compile(r"<<-?\s*'?(\w+)'?")


def bash_blocks(page: Path) -> list[str]:
    """The page's ```bash blocks, in order."""
    return [body for lang, body in FENCE.findall(page.read_text()) if lang == "bash"]


def commands(block: str) -> list[tuple[str, int]]:
    """The block's commands with the exit status each must have: continuation lines and here-documents are part
    of their command; comment-only and blank lines are not commands."""
    lines, units = block.splitlines(), []
    index = 0
    while index < len(lines):
        unit = [lines[index]]
        while unit[-1].rstrip().endswith("\\") and index + 1 < len(lines):
            index += 1
            unit.append(lines[index])
        tag = HEREDOC.search(unit[-1].split("#")[0])
        while tag and index + 1 < len(lines):
            index += 1
            unit.append(lines[index])
            if lines[index].strip() == tag.group(1):
                break
        index += 1
        text = "\n".join(unit)
        if text.strip() and not text.lstrip().startswith("#"):
            expected = EXPECTED_EXIT.search(unit[0])
            units.append((text, int(expected.group(1)) if expected else 0))
    return units


def checked(block: str, name: str) -> str:
    """The block as a script that stops at the first command whose status is not the expected one."""
    out = []
    for number, (command, expected) in enumerate(commands(block), 1):
        out.append(command)
        out.append(
            f'__s=$?; if [ "$__s" -ne {expected} ]; then echo "{name} command {number}: exit $__s, expected '
            f'{expected}" >&2; exit 99; fi'
        )
    return "\n".join(out) + "\n"


def test_commands_split_and_expected_status() -> None:
    """The splitter keeps continuations and here-documents whole and reads '(exit N)' from the comment."""
    block = "# a comment\nledgerml a \\\n  --b\n\ncat > f <<'EOF'\nx # y\nEOF\nledgerml c   # refused (exit 14)\n"
    expected = [("ledgerml a \\\n  --b", 0), ("cat > f <<'EOF'\nx # y\nEOF", 0), (block.splitlines()[-1], 14)]
    assert commands(block) == expected
    script = checked("true\nfalse   # (exit 1)\n(exit 3)\ntrue\n", "t")
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=False)
    assert result.returncode == 99 and "t command 3: exit 3, expected 0" in result.stderr


# ---- inputs in the real data's layout ------------------------------------------------------------------


def _gas_daily(data: Path) -> None:
    """Etherscan daily exports, 2021-01-01 .. 2024-06-20: enough history for the 1,095-day refit window."""
    import datetime as dt

    from tests.analytics.fees import _daily

    start = dt.date(2021, 1, 1)
    days = (dt.date(2024, 6, 20) - start).days + 1
    _daily.write(data / "eth_gas_daily", _daily.generated(days), start=start)


def _blocks_sample(data: Path) -> None:
    """``eth_blocks_sample/data/blocks.csv``: 200 consecutive blocks with the real file's columns."""
    import numpy as np

    rng = np.random.default_rng(3)
    rows = ["number,timestamp,transactions,gas_used,gas_limit,size"]
    for i in range(200):
        used = int(rng.uniform(0.2, 1.0) * 45_000_000)
        rows.append(f"{23032295 + i},{1753882751 + 12 * i},{int(rng.integers(50, 400))},{used},45000000,{used // 250}")
    folder = data / "eth_blocks_sample" / "data"
    folder.mkdir(parents=True)
    (folder / "blocks.csv").write_text("\n".join(rows) + "\n")


def _solidifi(data: Path) -> None:
    """A SolidiFI-shaped benchmark (the contract model tests' generator)."""
    from tests.analytics.contracts.test_model import make_benchmark

    make_benchmark(data)


def _contracts_root(work: Path) -> None:
    """The repository's layout the contracts page names: its test contracts, the bundled model's parent."""
    shutil.copytree(ROOT / "tests/analytics/contracts/data", work / "tests/analytics/contracts/data")
    (work / "src/ledgerml/analytics/contracts").mkdir(parents=True)


@dataclass(frozen=True)
class Page:
    """How a page's blocks are run: how many there are, what the folder must hold, what they start."""

    blocks: int
    data: tuple[Callable[[Path], None], ...] = ()
    files: Callable[[Path], None] | None = None
    anvil: bool = False
    serve: bool = False


PAGES: dict[str, Page] = {
    "analytics.md": Page(1, anvil=True),
    "consensus.md": Page(2, data=(_blocks_sample,)),
    "contracts.md": Page(2, data=(_solidifi,), files=_contracts_root),
    "evm.md": Page(1, anvil=True),
    "federated.md": Page(1),
    "forecasting.md": Page(2, data=(_gas_daily, _blocks_sample), anvil=True),
    "governance.md": Page(1, anvil=True),
    "service.md": Page(3, serve=True),
}
"""Every docs page with a ```bash block; a page that gains, loses or adds a block fails the first test."""


def _pages() -> list[Path]:
    return sorted(DOCS.glob("*.md")) + sorted((DOCS / "scenarios").glob("*.md"))


def test_every_bash_block_of_the_docs_is_run_by_this_file() -> None:
    """No block escapes: the table names every page with bash blocks and how many it has."""
    found = {str(p.relative_to(DOCS)): len(bash_blocks(p)) for p in _pages() if bash_blocks(p)}
    assert found == {name: page.blocks for name, page in PAGES.items()}
    for name in PAGES:
        units = [command for block in bash_blocks(DOCS / name) for command, _ in commands(block)]
        text = "\n".join(line.split(" #")[0] for unit in units for line in unit.splitlines())  # not the comments
        for placeholder in ("TRAIN.csv", "ACCOUNTS.csv", "FOLDER", " DIR", "0xValidator", "4d93a6f5"):
            assert placeholder not in text, f"{name}: placeholder {placeholder!r} in a bash block"


# ---- running a page ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env(tmp_path: Path, work: Path) -> dict[str, str]:
    """The user's environment, less any ledgerml setting, with the page's home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEDGERML_", "FLWR_LOG"))}
    env["PATH"] = f"{ROOT / 'node_modules' / '.bin'}:{Path(sys.executable).parent}:{env['PATH']}"
    env.update(TMPDIR=str(tmp_path), COLUMNS="200", LEDGERML_HOME=str(work / ".ledgerml"))
    env.update(LEDGERML_PASSWORD="change-me", LEDGERML_DATA=str(tmp_path / "shared" / "data"))
    env.update(FLWR_TELEMETRY_ENABLED="0", FLWR_DISABLE_UPDATE_CHECK="1", RAY_USAGE_STATS_ENABLED="0")
    return env


HANDOVER = """
__json() { python -c "import json,sys; print(json.load(sys.stdin)[\\"$1\\"])"; }
__token() {  # the serving home's admin: the data_owner role and a participant token for the organisation's key
  local address; address=$(ledgerml identity show st-mary --home org --json | __json address)
  ledgerml role grant data_owner "$address" --home demo >/dev/null && \\
    ledgerml remote token create org-st-mary --identity "$address" --home demo --json | __json token
}
__validator() { ledgerml identity show admin --home demo --json | __json address; }
"""
"""docs/service.md's hand-over from the serving machine's admin, done on this machine."""


def _service(script: str, port: int) -> str:
    """The serve line in the background until the page's end; the other machine's URL is that server."""
    script = script.replace("--port 8000", f"--port {port}").replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    script = script.replace("http://ledger.consortium.example:8000", f"http://127.0.0.1:{port}")
    script = script.replace("LEDGERML_TOKEN=lml_…", "LEDGERML_TOKEN=$(__token)").replace("0x…", "$(__validator)")
    lines = script.splitlines()
    (at,) = [i for i, line in enumerate(lines) if line.startswith("ledgerml serve ")]
    lines[at] = re.sub(r"^(ledgerml serve [^#]*?)\s*(#.*)?$", r"\1 & \2", lines[at])
    wait = f"until (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null; do sleep 0.3; done"
    lines[at + 1] += f"\n__SERVER=$!\n{wait}"
    stop = 'kill -TERM "$__SERVER"; wait "$__SERVER"; __s=$?\n'
    stop += '[ "$__s" -eq 0 ] || { echo "serve: exit $__s" >&2; exit 98; }'
    return HANDOVER + "\n".join(lines) + f"\n{stop}\necho 'serve stopped'\n"


def _script(name: str, page: Page, anvil_port: int, serve_port: int) -> str:
    blocks = bash_blocks(DOCS / name)
    script = "".join(checked(block, f"{name} block {i}") for i, block in enumerate(blocks, 1))
    if page.anvil:
        script = script.replace("8545", str(anvil_port))
    if page.serve:
        script = _service(script, serve_port)
    return "ledgerml init --unencrypted >/dev/null || exit 97\n" + script


def _stop_nodes(tmp_path: Path, env: dict[str, str]) -> None:
    """Stop any node a failed block left running, by its PID file."""
    for pid_file in tmp_path.rglob("node/anvil.pid"):
        home = pid_file.parents[1]
        subprocess.run(["ledgerml", "node", "stop", "--home", str(home)], env=env, capture_output=True, check=False)


def run_page(name: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run the page's blocks in order in one shell; stop what they started whatever happens."""
    page = PAGES[name]
    work = tmp_path / "work"
    work.mkdir()
    for make in page.data:
        make(tmp_path / "shared" / "data")
    if page.files:
        page.files(work)
    env = _env(tmp_path, work)
    script = _script(name, page, _free_port(), _free_port())
    shell = subprocess.Popen(
        ["bash", "-c", script],
        cwd=work,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = shell.communicate(timeout=1800)
    finally:
        with contextlib.suppress(ProcessLookupError):  # the shell and what it left in its group (a server)
            os.killpg(shell.pid, signal.SIGTERM)
        if shell.poll() is None:
            shell.communicate(timeout=60)
        _stop_nodes(tmp_path, env)
    return subprocess.CompletedProcess(shell.args, shell.returncode, out, err)


def _assert_ran(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout[-4000:] + "\n---\n" + result.stderr[-4000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return " ".join(result.stdout.split())


def _needs_anvil() -> None:
    if shutil.which("anvil", path=str(ROOT / "node_modules" / ".bin")) is None and shutil.which("anvil") is None:
        pytest.fail("anvil is not installed: run 'npm ci' (the README says so)")


@pytest.mark.slow
def test_consensus_page_runs_as_written(tmp_path: Path) -> None:
    out = _assert_ran(run_page("consensus.md", tmp_path))
    assert '"blockperiodseconds": 5' in out and "learned" in out


@pytest.mark.slow
def test_contracts_page_runs_as_written(tmp_path: Path) -> None:
    out = _assert_ran(run_page("contracts.md", tmp_path))
    assert (tmp_path / "work" / "scan.sarif").is_file() and "reentrancy" in out
    for model in ("contracts-model", "src/ledgerml/analytics/contracts/bundled_model"):
        assert (tmp_path / "work" / model / "meta.json").is_file(), model


@pytest.mark.slow
def test_federated_page_runs_as_written(tmp_path: Path) -> None:
    out = _assert_ran(run_page("federated.md", tmp_path))
    assert '"commitment_ok": true' in out and '"within_bound": true' in out


@pytest.mark.slow
def test_analytics_page_runs_as_written(tmp_path: Path) -> None:
    _needs_anvil()
    out = _assert_ran(run_page("analytics.md", tmp_path))
    assert re.search(r"scored \d+ accounts, \d+ flagged; wrote scores.csv", out), out[-2000:]
    for made in ("scores.csv", "chain-accounts.csv", "actors.csv"):
        assert (tmp_path / "work" / made).is_file(), made


@pytest.mark.slow
def test_forecasting_page_runs_as_written(tmp_path: Path) -> None:
    _needs_anvil()
    out = _assert_ran(run_page("forecasting.md", tmp_path))
    assert '"forecasts"' in out and "stopped anvil" in out


@pytest.mark.slow
def test_governance_page_runs_as_written(tmp_path: Path) -> None:
    _needs_anvil()
    result = run_page("governance.md", tmp_path)
    out = _assert_ran(result)
    assert "needs 2 of 3 approvals" in result.stderr and '"proposal": 1' in out and "stopped anvil" in out


@pytest.mark.slow
def test_evm_page_runs_as_written(tmp_path: Path) -> None:
    """Includes 'ledgerml demo --ledger evm --rounds 3', the whole demo on its own node."""
    _needs_anvil()
    out = _assert_ran(run_page("evm.md", tmp_path))
    assert "stopped anvil" in out


@pytest.mark.slow
def test_service_page_runs_as_written(tmp_path: Path) -> None:
    out = _assert_ran(run_page("service.md", tmp_path))
    assert "serve stopped" in out and "lml_" in out and "revoked" in out
    assert "valid inclusion proof" in out and "OK: " in out and out.count("appended event") == 2
