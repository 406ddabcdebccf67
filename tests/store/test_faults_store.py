"""Faults around the artifact store: a full disk at each write of a registration, and a killed registration's workers.

The commands run in subprocesses, with ``RLIMIT_FSIZE`` set (and ``SIGXFSZ`` ignored, so a write past the limit
fails with ``EFBIG``, as on a full disk), then again without the limit: the retry must succeed and leave the
artifact in the store, and the ledger must verify after every failure.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from ledgerml.home import Home
from ledgerml.localnode import alive

from .._cli import one_error_line

FAULT_LIMITS = [0, 4096, 20_000, 34_000, 40_000, 48_000, 60_000, 80_000, 120_000, 200_000, 400_000, 1 << 21]
"""File size limits (bytes) that land in turn in the artifact writes, the ledger's files, and nowhere."""


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        LEDGERML_HOME=str(home),
        COLUMNS="400",
        PYTHONDONTWRITEBYTECODE="1",  # a size limit must not truncate bytecode caches of the shared tree
        FLWR_TELEMETRY_ENABLED="0",
        FLWR_DISABLE_UPDATE_CHECK="1",
        RAY_USAGE_STATS_ENABLED="0",
    )
    env.pop("LEDGERML_PASSWORD", None)
    return env


def ledgerml(home: Path, *args: str, limit: int | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a subprocess, optionally with a file size limit."""

    def preexec() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(
        [sys.executable, "-m", "ledgerml", *args],
        env=_env(home),
        capture_output=True,
        text=True,
        preexec_fn=preexec,
        timeout=300,
        check=False,
    )


@pytest.fixture
def home(cli, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """A home with the roles the registrations need, made in-process (``cli`` runs in tmp_path/home): only the
    commands under a size limit or a kill need a process of their own; set-up and retries do not."""
    for args in (
        ("init", "--unencrypted", "--json"),
        ("role", "grant", "data_owner", "admin"),
        ("role", "grant", "trainer", "admin"),
    ):
        result = cli(*args)
        assert result.code == 0, result.err
    return tmp_path / "home"


def _events(home: Path) -> int:
    ledger = Home(home).open_ledger(as_validator=False)
    try:
        return ledger.size
    finally:
        ledger.close()


def _assert_verifies(home: Path) -> None:
    ledger = Home(home).open_ledger(as_validator=False)
    try:
        report = ledger.verify()
        assert report.ok, report.to_dict()
    finally:
        ledger.close()


def _assert_one_line_failure(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode != 0
    assert one_error_line(result.stderr), result.stderr


def _dataset_folder(root: Path, tag: int) -> Path:
    """A folder of 400 small tables: its manifest (about 90 KB) is larger than the ledger's first writes."""
    folder = root / f"data-{tag}"
    folder.mkdir()
    for i in range(400):
        (folder / f"part-{i:04d}.csv").write_text(f"a,b\n{tag},{i}\n")
    return folder


def test_disk_full_at_each_write_of_data_register_then_a_retry_succeeds(cli, home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    failures: dict[str, int] = {}
    for tag, limit in enumerate(FAULT_LIMITS):
        folder = _dataset_folder(tmp_path, tag)
        before = _events(home)
        first = ledgerml(home, "data", "register", str(folder), "--json", limit=limit)
        if first.returncode != 0:
            _assert_one_line_failure(first)
            kind = "store" if "cannot store artifact" in first.stderr else "ledger"
            failures[kind] = failures.get(kind, 0) + 1
            _assert_verifies(home)
            retry = cli("data", "register", str(folder), "--json")
            assert retry.code == 0, (limit, first.stderr, retry.err)
            dataset_id = json.loads(retry.out)["dataset_id"]
        else:
            dataset_id = json.loads(first.stdout)["dataset_id"]
        assert Home(home).store().has(dataset_id), limit
        assert _events(home) == before + 1, limit  # exactly one registration, however many attempts
        _assert_verifies(home)
    assert failures.get("store") and failures.get("ledger"), failures  # both kinds of write were hit
    assert cli("data", "register", str(tmp_path / "data-0")).code == 17  # complete: a duplicate


def test_disk_full_at_each_write_of_model_register_then_a_retry_succeeds(cli, home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "train.csv"
    data.write_text("a,b\n1,2\n")
    registered = cli("data", "register", str(data), "--json")
    assert registered.code == 0, registered.err
    dataset_id = json.loads(registered.out)["dataset_id"]
    failures: dict[str, int] = {}
    for tag, limit in enumerate(FAULT_LIMITS):
        model = tmp_path / f"m{tag}.safetensors"
        save_file({"w": np.full(60_000, float(tag))}, str(model))  # 480 KB: larger than every limit but the last
        metrics = tmp_path / f"metrics{tag}.json"
        metrics.write_text(json.dumps({"f1": 0.5, "tag": tag}))
        before = _events(home)
        args = ("model", "register", str(model), "--trained-on", dataset_id, "--metrics", str(metrics), "--json")
        first = ledgerml(home, *args, limit=limit)
        if first.returncode != 0:
            _assert_one_line_failure(first)
            kind = "store" if "cannot store artifact" in first.stderr else "ledger"
            failures[kind] = failures.get(kind, 0) + 1
            _assert_verifies(home)
            retry = cli(*args)
            assert retry.code == 0, (limit, first.stderr, retry.err)
            model_id = json.loads(retry.out)["model_id"]
        else:
            model_id = json.loads(first.stdout)["model_id"]
        store = Home(home).store()
        assert store.get(model_id) == model.read_bytes(), limit
        assert _events(home) == before + 1, limit
        _assert_verifies(home)
    assert failures.get("store") and failures.get("ledger"), failures


def test_a_filled_in_artifact_completes_a_registration_whose_event_landed(cli, home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The issue's failure: the event landed, the artifact did not; the retry fills it in (once, same digest)."""
    folder = _dataset_folder(tmp_path, 99)
    first = cli("data", "register", str(folder), "--json")
    dataset_id = json.loads(first.out)["dataset_id"]
    store = Home(home).store()
    store.delete(dataset_id)  # as if the store write had failed after the event was appended
    before = _events(home)
    retry = cli("data", "register", str(folder), "--json")
    assert retry.code == 0, retry.err
    assert json.loads(retry.out)["dataset_id"] == dataset_id and store.has(dataset_id)
    assert _events(home) == before
    assert cli("data", "register", str(folder)).code == 17


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc").is_dir() or (os.cpu_count() or 1) < 2, reason="needs /proc and 2 CPUs")
def test_kill_9_of_data_register_takes_its_hashing_workers_with_it(home: Path, tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    with big.open("wb") as handle:
        handle.write(b"a,b,c,d\n")
        block = b"1234567,0xabcdefabcdef,42.5,1\n" * 100_000
        for _ in range(40):  # 120 MB: several seconds of hashing per worker
            handle.write(block)
    process = subprocess.Popen(
        [sys.executable, "-m", "ledgerml", "data", "register", str(big)],
        env=_env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        workers: set[int] = set()
        deadline = time.monotonic() + 60
        while len(workers) < 2 and time.monotonic() < deadline and process.poll() is None:
            workers |= _children(process.pid)
            time.sleep(0.05)
        assert len(workers) >= 2, "data register never started its hashing workers"
        time.sleep(0.5)
        assert all(alive(pid) for pid in workers)  # hashing is under way
    finally:
        process.kill()
        process.wait()
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    survivors = [pid for pid in workers if alive(pid)]
    for pid in survivors:  # clean up before failing
        os.kill(pid, signal.SIGKILL)
    assert not survivors, f"hashing workers {survivors} outlived their killed parent"
