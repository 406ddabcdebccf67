"""Durability across kill -9 and correctness under concurrent writers (real processes)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ledgerml import Identity, Ledger, RoleGranted, sqlite_url
from ledgerml.types import Role

from ..conftest import make_identity

ROOT = Path(__file__).resolve().parents[2]
ADMIN_SEED = 1000


def _spawn(url: str, writer_seed: int, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests._appender", url, str(writer_seed), str(ADMIN_SEED), str(count)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # one stream to read: ACK lines and any error output
        text=True,
    )


def _acks(output: str) -> list[tuple[int, str]]:
    acks = []
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "ACK":  # a line cut by the kill has fewer parts: not acknowledged
            acks.append((int(parts[1]), parts[2]))
    return acks


def _ledger_with_writers(tmp_path: Path, admin: Identity, seeds: list[int], **options: object) -> str:
    url = sqlite_url(tmp_path / "ledger.db", **options)
    ledger = Ledger.create(url, admin=admin)
    ledger.submit_batch(
        admin, [RoleGranted(subject=make_identity("w", s).address, role=Role.DATA_OWNER) for s in seeds]
    )
    ledger.close()
    return url


@pytest.mark.slow
def test_kill_9_loses_no_acknowledged_event(tmp_path: Path, admin: Identity) -> None:
    url = _ledger_with_writers(tmp_path, admin, [7], block_size=50, block_interval=0.05)
    rng = random.Random(9)
    acknowledged: list[tuple[int, str]] = []
    for _round in range(20):
        child = _spawn(url, 7, 0)
        assert child.stdout is not None
        first = child.stdout.readline()  # wait until it is really appending
        assert first.startswith("ACK"), first + (child.stdout.read() if child.stdout else "")
        time.sleep(rng.uniform(0.05, 0.4))
        os.kill(child.pid, signal.SIGKILL)
        rest = child.stdout.read()  # through the same buffer readline() filled; EOF once the child is dead
        child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL
        acknowledged += _acks(first + rest)
    ledger = Ledger.open(url, validator=admin)
    try:
        for seq, event_id in acknowledged:
            assert ledger.get_event(event_id).seq == seq
        assert len({event_id for _, event_id in acknowledged}) == len(acknowledged)
        ledger.seal()
        report = ledger.verify()
        assert report.ok, report
        # nothing but acknowledged events (plus genesis and the grant) and at most one per killed round in flight
        assert len(acknowledged) <= ledger.size - 2 <= len(acknowledged) + 20
    finally:
        ledger.close()
    assert len(acknowledged) > 100


@pytest.mark.slow
def test_four_processes_500_appends_each(tmp_path: Path, admin: Identity) -> None:
    seeds = [21, 22, 23, 24]
    url = _ledger_with_writers(tmp_path, admin, seeds, block_size=100, block_interval=0.5)
    children = [_spawn(url, seed, 500) for seed in seeds]
    outputs = [child.communicate(timeout=600) for child in children]
    for child, (out, _) in zip(children, outputs, strict=True):
        assert child.returncode == 0, out[-2000:]
    acks = [ack for out, _ in outputs for ack in _acks(out)]
    assert len(acks) == 2000
    assert len({seq for seq, _ in acks}) == 2000 and len({event_id for _, event_id in acks}) == 2000
    ledger = Ledger.open(url, validator=admin)
    try:
        assert ledger.size == 1 + len(seeds) + 2000  # genesis, one grant per writer, the appends
        for seq, event_id in acks:
            assert ledger.get_event(seq).event.id == event_id
        for seed in seeds:
            assert ledger.next_nonce(make_identity("w", seed).address) == 500
        ledger.seal()
        report = ledger.verify()
        assert report.ok and report.events_checked == 2005, report
    finally:
        ledger.close()
