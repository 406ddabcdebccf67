"""The fault suite: kill -9 a short rewarded federation at every event boundary, resume it with ``fl run``,
and check that both audits pass and the outcome equals a clean run's.

Each run is a forked child of this process (the imports are paid once) that SIGKILLs itself right after its
K-th committed event (``LEDGERML_TEST_KILL_AFTER_EVENTS``, the SQLite backend's test hook). Identities are
created before the template home is copied, so every run has the same addresses and every aggregate, payout
and slash must come out bit for bit as in the clean run.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest

from ledgerml.home import Home

os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
os.environ.setdefault("FLWR_DISABLE_UPDATE_CHECK", "1")

TASK = "faulty"
CONFIG = f"""[federation]
task_id = "{TASK}"
participants = 2
rounds = 2
min_participants = 1
max_update_norm = 20.0

[attack]
kind = "gaussian_noise"
participants = [0]
params = {{ sigma = 5.0 }}

[rewards]
reward_pool = 600
stake = 100
initial_tokens = 100
slash_on = ["update norm"]
slash_amount = 30
"""
NAMES = ["aggregator", f"{TASK}-org00", f"{TASK}-org01"]


def _cli(home: Path, log: Path, *args: str, kill_after: int | None = None) -> int:
    """Run the CLI in a forked child; its exit code, or minus the signal that ended it."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 98
        try:
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.environ["LEDGERML_HOME"] = str(home)
            os.environ.pop("LEDGERML_TEST_KILL_AFTER_EVENTS", None)
            if kill_after is not None:
                os.environ["LEDGERML_TEST_KILL_AFTER_EVENTS"] = str(kill_after)
            sys.argv = ["ledgerml", *args]
            from ledgerml.cli import main

            try:
                main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 99
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _events(home: Path) -> int:
    conn = sqlite3.connect(home / "ledger.db")
    try:
        return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
    finally:
        conn.close()


def _outcome(home: Path) -> dict[str, Any]:
    """What must not depend on where a run was killed: rounds, aggregates, payouts, slashes, settlement."""
    from ledgerml.vocab.core import model
    from ledgerml.vocab.rewards import payouts
    from ledgerml.vocab.tasks import progress, round_record
    from ledgerml.vocab.tokens import balance, supply

    ledger = Home(home).open_ledger(as_validator=False)
    try:
        state = ledger.state()
        done = progress(state, TASK)
        rounds = []
        for r in range(1, done.finalized + 1):
            record = round_record(state, TASK, r)
            assert record is not None
            rounds.append((record.status, record.aggregate_digest, record.accepted, record.rejected))
        paid = payouts(state, TASK)
        rewards = {r: (v.contributions, v.payments) for r, v in paid.rewards.items()}
        slashes = {k: (v.amount, v.reason) for k, v in paid.slashes.items()}
        accounts = sorted(state.rows("balances"))
        assert ledger.verify().ok
        return {
            "rounds": rounds,
            "global": done.global_digest,
            "rewards": rewards,
            "slashes": slashes,
            "settled": state.get("settled", TASK) is not None,
            "balances": {a: balance(state, a) for a in accounts},
            "balanced": supply(state).balanced,
            "model": model(state, done.global_digest) is not None,
        }
    finally:
        ledger.close()


@pytest.mark.slow
def test_kill_at_every_event_boundary_then_resume(tmp_path: Path) -> None:
    import sklearn.datasets  # noqa: F401  (imported once here, inherited by every forked run)

    import ledgerml.cli
    import ledgerml.federated.apps
    import ledgerml.incentives  # noqa: F401

    template = tmp_path / "template"
    log = tmp_path / "runs.log"
    assert _cli(template, log, "init", "--unencrypted") == 0
    for name in NAMES:
        assert _cli(template, log, "identity", "create", name, "--unencrypted") == 0
    config = tmp_path / "faulty.toml"
    config.write_text(CONFIG)
    after_init = _events(template)

    clean = tmp_path / "clean"
    shutil.copytree(template, clean)
    assert _cli(clean, log, "fl", "run", str(config), "--unencrypted") == 0, log.read_text()[-3000:]
    expected = _outcome(clean)
    assert [r[0] for r in expected["rounds"]] == ["ok", "ok"] and len(expected["rewards"]) == 2
    assert len(expected["slashes"]) == 2 and expected["settled"] and expected["model"]
    total = _events(clean) - after_init
    assert total >= 15

    for k in range(1, total + 1):
        home = tmp_path / f"k{k:03d}"
        shutil.copytree(template, home)
        first = _cli(home, log, "fl", "run", str(config), "--unencrypted", kill_after=k)
        assert first in (-signal.SIGKILL, 0), (k, first, log.read_text()[-3000:])
        assert _events(home) - after_init >= min(k, total)
        resumed = _cli(home, log, "fl", "run", str(config), "--unencrypted")
        assert resumed == 0, (k, log.read_text()[-3000:])
        assert _cli(home, log, "audit", "task", TASK) == 0, (k, log.read_text()[-3000:])
        assert _outcome(home) == expected, k
        shutil.rmtree(home)
