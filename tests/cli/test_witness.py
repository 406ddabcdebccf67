"""``ledgerml witness serve|trust``, ``checkpoint publish`` and ``verify --witnesses K`` through the real CLI."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from .._cli import event_count, one_error_line
from ..witness.conftest import start_witness

__all__ = ["start_witness"]


def files_of(home: Path) -> dict[str, str]:
    """Every file of the home but SQLite's journal files, with a digest of its bytes."""
    return {
        str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(home.rglob("*"))
        if p.is_file() and not p.name.endswith(("-wal", "-shm"))
    }


def test_trust_publish_and_verify(cli, home: Path, start_witness: Callable[[str], str]) -> None:  # type: ignore[no-untyped-def]
    urls = [start_witness("w1"), start_witness("w2")]
    for url in urls:
        trusted = cli("witness", "trust", url, "--json")
        assert trusted.code == 0, trusted
        assert set(trusted.json()) == {"name", "vkey", "url"}
    assert cli("role", "grant", "auditor", "alice").code == 0
    published = cli("checkpoint", "publish", "--json")
    assert published.code == 0, published
    document = published.json()
    assert len(document["cosigned_by"]) == 2 and document["failed"] == {} and document["size"] == event_count(home)
    report = cli("verify", "--witnesses", "2", "--json")
    assert report.code == 0 and report.json()["ok"], report
    notes = " ".join(report.json()["notes"])
    assert "undetected" not in notes and "witnesses' cosigned checkpoints" in notes  # not the no-anchors warning
    one = cli("checkpoint", "publish", "--witness", urls[0], "--json")
    assert one.code == 0 and len(one.json()["cosigned_by"]) == 1


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("witness", "trust", "ftp://127.0.0.1:1"), 2),
        (("witness", "trust", "http://127.0.0.1:99999"), 2),
        (("witness", "trust", "http://127.0.0.1:9"), 7),
        (("checkpoint", "publish"), 3),
        (("checkpoint", "publish", "--witness", "http://127.0.0.1:9"), 3),
        (("checkpoint", "publish", "--witness", "not a url"), 2),
        (("verify", "--witnesses", "1"), 2),
        (("verify", "--witnesses", "0"), 2),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(cli, home: Path, args: tuple[str, ...], code: int) -> None:  # type: ignore[no-untyped-def]
    before = files_of(home)
    result = cli(*args)
    assert result.code == code and one_error_line(result.err), result
    assert files_of(home) == before


def test_k_larger_than_the_trusted_witnesses(cli, home: Path, start_witness: Callable[[str], str]) -> None:  # type: ignore[no-untyped-def]
    assert cli("witness", "trust", start_witness("w1")).code == 0
    before = files_of(home)
    result = cli("verify", "--witnesses", "2")
    assert result.code == 2 and "more witnesses than the 1" in result.err and one_error_line(result.err)
    assert files_of(home) == before


def test_verify_fails_until_the_head_is_published(cli, home: Path, start_witness: Callable[[str], str]) -> None:  # type: ignore[no-untyped-def]
    assert cli("witness", "trust", start_witness("w1")).code == 0
    result = cli("verify", "--witnesses", "1")
    assert result.code == 31 and "run 'ledgerml checkpoint publish'" in result.err and one_error_line(result.err)


@pytest.mark.slow
def test_serve_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "200"}
    process = subprocess.Popen(
        [sys.executable, "-m", "ledgerml", "witness", "serve", "--home", str(tmp_path / "w"), "--port", "0", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert process.stdout is not None
        started = json.loads(process.stdout.readline())
        with urllib.request.urlopen(started["url"] + "/ledgerml/witness", timeout=10) as response:
            assert json.loads(response.read())["vkey"] == started["vkey"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
    key = json.loads((tmp_path / "w" / "witness.json").read_text())
    assert key["vkey"] == started["vkey"] and time.time() > 0
