"""RemoteLedger (the backend protocol over HTTP), ledger URLs, and 'ledgerml serve' / 'ledgerml remote' end to end."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from ledgerml import Ledger, LedgerBackend, verify_inclusion_proof
from ledgerml.errors import ConfigError, ReplayedNonce
from ledgerml.ledger.registry import parse_ledger_url
from ledgerml.ledger.remote import Forbidden, RemoteLedger, Unauthenticated
from ledgerml.service.app import create_app
from ledgerml.vocab.core import DatasetRegistered

from .._cli import one_error_line, run_cli
from .conftest import Demo


@pytest.fixture(scope="module")
def http(demo: Demo) -> Iterator[TestClient]:
    with TestClient(create_app(demo.home)) as client:
        yield client


def remote(http: TestClient, token: str) -> RemoteLedger:
    """A RemoteLedger over the in-process service (a fresh header set per token)."""
    client = TestClient(http.app)  # requests only: the module's client runs the app's lifespan
    return RemoteLedger("http://testserver", token, client=client)


def test_a_remote_ledger_replays_the_same_state_and_blocks(http: TestClient, demo: Demo) -> None:
    with remote(http, demo.auditor) as served, demo.home.open_ledger(as_validator=False) as local:
        assert isinstance(served, LedgerBackend)
        assert served.ledger_id == local.ledger_id and served.size == local.size
        assert served.state().digest() == local.state().digest()
        assert list(served.events(0, 40)) == list(local.events(0, 40))
        assert list(served.blocks()) == list(local.blocks())
        assert served.get_event(5) == local.get_event(5)


def test_the_same_code_submits_remotely_and_proves_inclusion(http: TestClient, demo: Demo) -> None:
    # Prepare
    identity = demo.home.identity(demo.participant_name)
    payload = DatasetRegistered(dataset_id="sha256:" + secrets.token_hex(32), name="remote cohort")
    validator = demo.home.keys.info("admin").address
    # Execute
    with remote(http, demo.participant) as served:
        receipt = served.submit(identity, payload)
        with pytest.raises(ReplayedNonce):
            served.append(served.get_event(receipt.seq).event)
    with remote(http, demo.admin) as admin:
        admin.seal()
        proof = admin.inclusion_proof(receipt.seq)
    # Assert
    assert verify_inclusion_proof(proof, trusted_validators={validator}).id == receipt.event_id


def test_remote_errors_are_the_named_classes(http: TestClient, demo: Demo) -> None:
    identity = demo.home.identity(demo.participant_name)
    payload = DatasetRegistered(dataset_id="sha256:" + "f" * 64, name="nope")
    with remote(http, demo.auditor) as served, pytest.raises(Forbidden, match="read-only"):
        served.submit(identity, payload)
    with pytest.raises(Unauthenticated):
        remote(http, "lml_wrong")


def test_http_ledger_urls() -> None:
    assert parse_ledger_url("http://127.0.0.1:8000/").path == "http://127.0.0.1:8000"
    assert parse_ledger_url("https://ledger.example:443?timeout=5").options == {"timeout": "5"}
    with pytest.raises(ConfigError, match="names no host"):
        parse_ledger_url("http:///nothing")
    with pytest.raises(ConfigError, match="served ledger"):
        Ledger.create("http://127.0.0.1:9", admin=None)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="cannot reach the ledger service"):
        Ledger.open("http://127.0.0.1:9?timeout=2")


@pytest.mark.slow
def test_serve_answers_and_stops_cleanly_on_sigterm(demo: Demo, tmp_path: object) -> None:
    # Prepare: the real command in its own process
    env = {**os.environ, "LEDGERML_HOME": str(demo.home.path), "LEDGERML_TOKEN": demo.participant}
    command = [sys.executable, "-m", "ledgerml", "serve", "--port", "0", "--json"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = json.loads(server.stdout.readline())["url"]
        # Execute: the API, and the remote client commands against it
        head = httpx.get(f"{url}/api/head", headers={"Authorization": f"Bearer {demo.auditor}"}, timeout=30)
        os.environ["LEDGERML_TOKEN"] = demo.participant
        status = run_cli("remote", "status", "--url", url, "--json")
        fresh = DatasetRegistered(dataset_id="sha256:" + secrets.token_hex(32), name="over the wire")
        payload = json.dumps(fresh.model_dump(mode="json"))
        appended = run_cli(
            "remote",
            "append",
            "--url",
            url,
            "--kind",
            "DatasetRegistered",
            "--payload",
            payload,
            "--as",
            demo.participant_name,
            "--home",
            str(demo.home.path),
            "--json",
        )
        os.environ["LEDGERML_TOKEN"] = demo.auditor
        refused = run_cli(
            "remote",
            "append",
            "--url",
            url,
            "--kind",
            "DatasetRegistered",
            "--payload",
            payload,
            "--as",
            demo.participant_name,
            "--home",
            str(demo.home.path),
        )
    finally:
        os.environ.pop("LEDGERML_TOKEN", None)
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=60)
    # Assert
    assert head.status_code == 200 and head.json()["ledger_id"] == json.loads(status.out)["ledger_id"]
    assert appended.code == 0 and len(json.loads(appended.out)) == 1
    assert refused.code == 41 and one_error_line(refused.err) and "read-only" in refused.err
    assert code == 0, server.stderr.read() if server.stderr else ""


def test_serve_on_a_taken_port_is_one_error_line(demo: Demo) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = run_cli("serve", "--home", str(demo.home.path), "--port", str(taken.getsockname()[1]))
    assert result.code == 2 and one_error_line(result.err) and "cannot listen on 127.0.0.1" in result.err
